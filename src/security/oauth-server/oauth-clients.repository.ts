// The registered OAuth clients' table (oauth_clients). SQL only (ADR-0030): sealing the secret
// and shaping oidc-provider's payload are client-store.ts's; only a sealed secret reaches here.

import type { ClientMetadata } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'

export interface ClientRow {
  readonly clientId: string
  readonly metadata: ClientMetadata
  readonly secretSealed: string | null
  readonly description: string
}

export interface NewClientRow {
  readonly clientId: string
  /** Without client_secret: the secret is stored sealed, in its own column. */
  readonly metadata: ClientMetadata
  readonly secretSealed: string | null
  readonly description: string
  /** The organisation a backend service or device client acts for; null for none. On an upsert,
   *  null keeps the organisation already stored. */
  readonly organisationId: string | null
}

/** jsonb comes back parsed from PostgreSQL; some drivers hand back its text. */
const parsed = (m: ClientMetadata | string): ClientMetadata =>
  typeof m === 'string' ? (JSON.parse(m) as ClientMetadata) : m

interface Row {
  client_id: string
  metadata: ClientMetadata | string
  secret_sealed: string | null
  description: string
}
const toClient = (r: Row): ClientRow => ({
  clientId: r.client_id,
  metadata: parsed(r.metadata),
  secretSealed: r.secret_sealed,
  description: r.description,
})

export async function clientById(q: Queryable, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await q.query<Row>(
    'SELECT client_id, metadata, secret_sealed, description FROM oauth_clients WHERE client_id = $1',
    [clientId],
  )
  return rows[0] && toClient(rows[0])
}

export async function allClients(q: Queryable): Promise<ClientRow[]> {
  const { rows } = await q.query<Row>(
    'SELECT client_id, metadata, secret_sealed, description FROM oauth_clients ORDER BY client_id',
  )
  return rows.map(toClient)
}

/** Creates or replaces a client. */
export async function upsertClient(q: Queryable, c: NewClientRow): Promise<void> {
  await q.query(
    `INSERT INTO oauth_clients (client_id, metadata, secret_sealed, description, organisation_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata, secret_sealed = EXCLUDED.secret_sealed,
       description = EXCLUDED.description,
       organisation_id = COALESCE(EXCLUDED.organisation_id, oauth_clients.organisation_id), updated_at = now()`,
    [c.clientId, JSON.stringify(c.metadata), c.secretSealed, c.description, c.organisationId],
  )
}

/** Registers a new client; false (and nothing changed) when the id is taken. */
export async function insertClient(q: Queryable, c: NewClientRow): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO oauth_clients (client_id, metadata, secret_sealed, description, organisation_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (client_id) DO NOTHING`,
    [c.clientId, JSON.stringify(c.metadata), c.secretSealed, c.description, c.organisationId],
  )
  return rowCount > 0
}

/** Replaces a confidential client's sealed secret; false when there is no such client with a secret. */
export async function replaceClientSecret(
  q: Queryable,
  clientId: string,
  secretSealed: string,
): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE oauth_clients SET secret_sealed = $2, updated_at = now() WHERE client_id = $1 AND secret_sealed IS NOT NULL',
    [clientId, secretSealed],
  )
  return rowCount > 0
}

export async function deleteClient(q: Queryable, clientId: string): Promise<boolean> {
  const { rowCount } = await q.query('DELETE FROM oauth_clients WHERE client_id = $1', [clientId])
  return rowCount > 0
}

/** The metadata of every client whose metadata text contains `text` (a coarse filter; the caller decides). */
export async function clientMetadataContaining(q: Queryable, text: string): Promise<ClientMetadata[]> {
  const { rows } = await q.query<{ metadata: ClientMetadata | string }>(
    `SELECT metadata FROM oauth_clients WHERE metadata::text LIKE $1`,
    [`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
  )
  return rows.map((r) => parsed(r.metadata))
}
