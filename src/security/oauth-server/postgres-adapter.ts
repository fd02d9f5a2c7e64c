// oidc-provider's storage adapter on our database (PGlite or PostgreSQL): every code, token,
// session, grant and interaction is one row of oidc_payloads. Clients come from oauth_clients
// instead (see client-store.ts), so a secret is never stored in plaintext. Expired rows are
// treated as absent at once and swept later.

import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])

export interface ClientLookup {
  find(clientId: string): Promise<AdapterPayload | undefined>
}

export function createPostgresAdapterFactory(deps: { db: Queryable; clients: ClientLookup }) {
  const { db } = deps

  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the client store')
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null
      await db.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
           user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
        [this.model, id, JSON.stringify(payload), GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null, payload.userCode ?? null, payload.uid ?? null, expiresAt],
      )
    }

    private async findWhere(column: 'id' | 'user_code' | 'uid', value: string): Promise<AdapterPayload | undefined> {
      const { rows } = await db.query<{ payload: AdapterPayload; consumed_at: Date | null }>(
        `SELECT payload, consumed_at FROM oidc_payloads
         WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [this.model, value],
      )
      const row = rows[0]
      if (!row) return undefined
      const payload = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload
      return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return deps.clients.find(id)
      return this.findWhere('id', id)
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.findWhere('user_code', userCode)
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findWhere('uid', uid)
    }

    async consume(id: string): Promise<void> {
      await db.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL', [this.model, id])
    }

    async destroy(id: string): Promise<void> {
      await db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id])
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // Every code and token of the grant at once (a replayed code or a reused refresh token).
      await db.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId])
    }
  }
}

/** Removes expired rows; run periodically (retention). */
export async function sweepExpiredPayloads(db: Queryable): Promise<number> {
  const { rowCount } = await db.query("DELETE FROM oidc_payloads WHERE expires_at < now() - interval '1 hour'")
  return rowCount
}
