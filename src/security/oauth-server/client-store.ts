// Registered OAuth clients. oidc-provider reads them through the adapter's Client model; we keep
// them in oauth_clients with the secret sealed (bound to the client id), and hand oidc-provider
// the plaintext only in memory when it authenticates the client.

import { randomBytes } from 'node:crypto'
import type { AdapterPayload, ClientMetadata } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'
import type { Sealer } from './sealer.ts'

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
  return {
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      const { rows } = await db.query<{ metadata: ClientMetadata; secret_sealed: string | null }>(
        'SELECT metadata, secret_sealed FROM oauth_clients WHERE client_id = $1',
        [clientId],
      )
      const row = rows[0]
      if (!row) return undefined
      const metadata =
        typeof row.metadata === 'string' ? (JSON.parse(row.metadata) as ClientMetadata) : row.metadata
      return {
        ...metadata,
        client_id: clientId,
        ...(row.secret_sealed ? { client_secret: sealer.unseal(row.secret_sealed, aad(clientId)) } : {}),
      } as AdapterPayload
    },

    /** Creates or replaces a client; returns the secret when one was set (shown once to the caller). */
    async upsert(input: {
      clientId: string
      metadata: ClientMetadata
      secret?: string | undefined
      description?: string
    }): Promise<void> {
      const { client_secret: _ignored, ...metadata } = input.metadata
      await db.query(
        `INSERT INTO oauth_clients (client_id, metadata, secret_sealed, description) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata, secret_sealed = EXCLUDED.secret_sealed,
           description = EXCLUDED.description, updated_at = now()`,
        [
          input.clientId,
          JSON.stringify(metadata),
          input.secret ? sealer.seal(input.secret, aad(input.clientId)) : null,
          input.description ?? '',
        ],
      )
    },

    /** Registers a new client; false (and nothing changed) when the id is taken. */
    async insert(input: {
      clientId: string
      metadata: ClientMetadata
      secret?: string | undefined
      description?: string
    }): Promise<boolean> {
      const { client_secret: _ignored, ...metadata } = input.metadata
      const { rowCount } = await db.query(
        `INSERT INTO oauth_clients (client_id, metadata, secret_sealed, description) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id) DO NOTHING`,
        [
          input.clientId,
          JSON.stringify(metadata),
          input.secret ? sealer.seal(input.secret, aad(input.clientId)) : null,
          input.description ?? '',
        ],
      )
      return rowCount > 0
    },

    async list(): Promise<StoredClient[]> {
      const { rows } = await db.query<{
        client_id: string
        metadata: ClientMetadata | string
        secret_sealed: string | null
        description: string
      }>('SELECT client_id, metadata, secret_sealed, description FROM oauth_clients ORDER BY client_id')
      return rows.map((r) => ({
        clientId: r.client_id,
        metadata: typeof r.metadata === 'string' ? (JSON.parse(r.metadata) as ClientMetadata) : r.metadata,
        hasSecret: r.secret_sealed !== null,
        description: r.description,
      }))
    },

    /** Replaces a confidential client's secret (sealed like the first); false when there is no such client with a secret. */
    async replaceSecret(clientId: string, secret: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE oauth_clients SET secret_sealed = $2, updated_at = now() WHERE client_id = $1 AND secret_sealed IS NOT NULL',
        [clientId, sealer.seal(secret, aad(clientId))],
      )
      return rowCount > 0
    },

    async remove(clientId: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM oauth_clients WHERE client_id = $1', [clientId])
      return rowCount > 0
    },
  }
}

export type ClientStore = ReturnType<typeof createClientStore>
