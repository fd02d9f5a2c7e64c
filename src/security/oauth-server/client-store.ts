// Registered OAuth clients. oidc-provider reads them through the adapter's Client model; we keep
// them in oauth_clients with the secret sealed (bound to the client id), and hand oidc-provider
// the plaintext only in memory when it authenticates the client.

import { randomBytes } from 'node:crypto'
import type { AdapterPayload, ClientMetadata } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'
import type { Sealer } from './sealer.ts'
import * as repo from './oauth-clients.repository.ts'

export interface StoredClient {
  readonly clientId: string
  readonly metadata: ClientMetadata
  readonly hasSecret: boolean
  readonly description: string
}

const aad = (clientId: string) => `oauth_clients:${clientId}`

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url')
}

export function createClientStore(deps: { db: Queryable; sealer: Sealer }) {
  const { db, sealer } = deps
  const row = (input: {
    clientId: string
    metadata: ClientMetadata
    secret?: string | undefined
    description?: string
    organisationId?: string | null | undefined
  }): repo.NewClientRow => {
    const { client_secret: _ignored, ...metadata } = input.metadata
    return {
      clientId: input.clientId,
      metadata,
      secretSealed: input.secret ? sealer.seal(input.secret, aad(input.clientId)) : null,
      description: input.description ?? '',
      organisationId: input.organisationId ?? null,
    }
  }
  return {
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      // PostgreSQL's text cannot hold NUL, so no client has one in its id; asked for such an id,
      // the database would fail the statement (a 500 for a caller's typo or probe), not find nothing.
      if (clientId.includes('\u0000')) return undefined
      const stored = await repo.clientById(db, clientId)
      if (!stored) return undefined
      return {
        ...stored.metadata,
        client_id: clientId,
        ...(stored.secretSealed ? { client_secret: sealer.unseal(stored.secretSealed, aad(clientId)) } : {}),
      } as AdapterPayload
    },

    /** Creates or replaces a client; returns the secret when one was set (shown once to the caller). */
    async upsert(input: {
      clientId: string
      metadata: ClientMetadata
      secret?: string | undefined
      description?: string
      /** The organisation the client acts for (backend services, devices); omitted keeps the stored one. */
      organisationId?: string | null
    }): Promise<void> {
      await repo.upsertClient(db, row(input))
    },

    /** Registers a new client; false (and nothing changed) when the id is taken. */
    insert: (input: {
      clientId: string
      metadata: ClientMetadata
      secret?: string | undefined
      description?: string
      /** The organisation the client acts for (backend services, devices). */
      organisationId?: string | null
    }): Promise<boolean> => repo.insertClient(db, row(input)),

    async list(): Promise<StoredClient[]> {
      return (await repo.allClients(db)).map((r) => ({
        clientId: r.clientId,
        metadata: r.metadata,
        hasSecret: r.secretSealed !== null,
        description: r.description,
      }))
    },

    /** Replaces a confidential client's secret (sealed like the first); false when there is no such client with a secret. */
    replaceSecret: (clientId: string, secret: string): Promise<boolean> =>
      repo.replaceClientSecret(db, clientId, sealer.seal(secret, aad(clientId))),

    remove: (clientId: string): Promise<boolean> => repo.deleteClient(db, clientId),
  }
}

export type ClientStore = ReturnType<typeof createClientStore>
