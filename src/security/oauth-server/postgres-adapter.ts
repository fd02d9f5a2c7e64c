// oidc-provider's storage adapter on our database (PGlite or PostgreSQL): every code, token,
// session, grant and interaction is one row of oidc_payloads. Clients come from oauth_clients
// instead (see client-store.ts), so a secret is never stored in plaintext. Expired rows are
// treated as absent at once and swept later.
//
// Bearer values are never stored (ADR-0013). The opaque value oidc-provider hands us — an access,
// refresh or client-credentials token, an authorization or device code, a session cookie, a user
// code — is the row's key only as a keyed hash (HMAC-SHA-256 under a subkey of the keyring), and
// is removed from the stored payload; every look-up hashes what the caller presents. Someone with
// a backup (and no keyring) holds hashes that cannot be presented as tokens nor reversed.
//
// oidc-provider sometimes finds a row by another column (a device code by its user code, a session
// by its uid) and then saves it back or names it in an interaction. It is then handed a *handle*
// in place of the value it cannot know: "stored.<hash>.<tag>", the tag a second HMAC of the hash,
// so the handle resolves to the same row and cannot be forged from a backup. Handles are written
// to the database without their tag, so no presentable value is ever stored.

import { timingSafeEqual } from 'node:crypto'
import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
])

/** The keyring's keyed blind index (platform/crypto/keyring.ts). */
export interface StorageKeyring {
  blindIndex(value: string, purpose: string): string
}

const STORED_ID_PURPOSE = 'oidc-provider stored id'
const HANDLE_TAG_PURPOSE = 'oidc-provider stored handle'
const HANDLE = /^stored\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/
const REFERENCE = /^stored\.([A-Za-z0-9_-]{43})$/

/** How an opaque value is stored and looked up: its keyed hash, or the hash a valid handle carries. */
export function oidcStorageId(keyring: StorageKeyring, value: string): string {
  const handle = HANDLE.exec(value)
  if (handle) {
    const [, stored, tag] = handle as unknown as [string, string, string]
    const expected = Buffer.from(keyring.blindIndex(stored, HANDLE_TAG_PURPOSE))
    if (timingSafeEqual(expected, Buffer.from(tag))) return stored
  }
  return keyring.blindIndex(value, STORED_ID_PURPOSE)
}

function handleFor(keyring: StorageKeyring, stored: string): string {
  return `stored.${stored}.${keyring.blindIndex(stored, HANDLE_TAG_PURPOSE)}`
}

export interface ClientLookup {
  find(clientId: string): Promise<AdapterPayload | undefined>
}

export function createPostgresAdapterFactory(deps: {
  db: Queryable
  clients: ClientLookup
  keyring: StorageKeyring
}) {
  const { db, keyring } = deps
  const key = (value: string) => oidcStorageId(keyring, value)

  /** The payload as stored: no jti (the row's key is its hash), no user code (its hash is a column), no session cookie in an interaction, a device code referenced by hash. */
  function toStored(model: string, payload: AdapterPayload): AdapterPayload {
    const { jti: _jti, userCode: _userCode, ...rest } = payload
    if (model === 'Interaction') {
      const session = rest.session as (Record<string, unknown> & { cookie?: unknown }) | undefined
      if (session && 'cookie' in session) {
        const { cookie: _cookie, ...kept } = session
        rest.session = kept as never
      }
      if (typeof rest.deviceCode === 'string') rest.deviceCode = `stored.${key(rest.deviceCode)}`
    }
    return rest
  }

  /** The payload oidc-provider expects back: its jti (the value it asked with, or a handle), and references turned back into handles. */
  function fromStored(
    model: string,
    stored: string,
    payload: AdapterPayload,
    jti: string | undefined,
    extra: Partial<AdapterPayload>,
  ): AdapterPayload {
    const out: AdapterPayload = { ...payload, ...extra, jti: jti ?? handleFor(keyring, stored) }
    if (model === 'Interaction' && typeof out.deviceCode === 'string') {
      const ref = REFERENCE.exec(out.deviceCode)
      if (ref?.[1]) out.deviceCode = handleFor(keyring, ref[1])
    }
    return out
  }

  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the client store')
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null
      const grantId =
        GRANTABLE.has(this.model) && typeof payload.grantId === 'string' ? key(payload.grantId) : null
      const userCode = typeof payload.userCode === 'string' ? key(payload.userCode) : null
      const uid = typeof payload.uid === 'string' ? key(payload.uid) : null
      await db.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
           user_code = COALESCE(EXCLUDED.user_code, oidc_payloads.user_code), uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
        [
          this.model,
          key(id),
          JSON.stringify(toStored(this.model, payload)),
          grantId,
          userCode,
          uid,
          expiresAt,
        ],
      )
    }

    private async findWhere(
      column: 'id' | 'user_code' | 'uid',
      value: string,
      jti: string | undefined,
      extra: Partial<AdapterPayload> = {},
    ): Promise<AdapterPayload | undefined> {
      const { rows } = await db.query<{ id: string; payload: AdapterPayload; consumed_at: Date | null }>(
        `SELECT id, payload, consumed_at FROM oidc_payloads
         WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [this.model, key(value)],
      )
      const row = rows[0]
      if (!row) return undefined
      const stored =
        typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload
      const payload = fromStored(this.model, row.id, stored, jti, extra)
      return row.consumed_at
        ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) }
        : payload
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return deps.clients.find(id)
      return this.findWhere('id', id, id)
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.findWhere('user_code', userCode, undefined, { userCode })
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findWhere('uid', uid, undefined)
    }

    async consume(id: string): Promise<void> {
      await db.query(
        'UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
        [this.model, key(id)],
      )
    }

    async destroy(id: string): Promise<void> {
      await db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, key(id)])
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // Every code and token of the grant at once (a replayed code or a reused refresh token).
      await db.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [key(grantId)])
    }
  }
}

/** Removes expired rows; run periodically (retention). */
export async function sweepExpiredPayloads(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    "DELETE FROM oidc_payloads WHERE expires_at < now() - interval '1 hour'",
  )
  return rowCount
}

/** The two models a bearer access token is stored under: a user's (or a paired device's) token, or a client-credentials token. */
export type BearerModel = 'AccessToken' | 'ClientCredentials'

export interface StoredBearer {
  readonly model: BearerModel
  /** The row's key: the token's keyed hash (never the token). */
  readonly storedId: string
  /** The payload as oidc-provider's adapter would return it (jti = the value presented). */
  readonly payload: AdapterPayload
}

/**
 * A presented bearer token looked up once, under either model (issue 17): one statement instead of
 * `AccessToken.find` then `ClientCredentials.find`. The caller hands the payload to that model's
 * own verification (expiry, format) before trusting it.
 */
export async function findBearerToken(
  db: Queryable,
  keyring: StorageKeyring,
  value: string,
): Promise<StoredBearer | undefined> {
  const storedId = oidcStorageId(keyring, value)
  const { rows } = await db.query<{
    model: BearerModel
    payload: AdapterPayload | string
    consumed_at: Date | null
  }>(
    `SELECT model, payload, consumed_at FROM oidc_payloads
      WHERE model IN ('AccessToken', 'ClientCredentials') AND id = $1 AND (expires_at IS NULL OR expires_at > now())`,
    [storedId],
  )
  // The same value stored under both models cannot happen (a random 256-bit value each); refuse it if it ever did.
  if (rows.length !== 1) return undefined
  const row = rows[0] as (typeof rows)[number]
  const stored = typeof row.payload === 'string' ? (JSON.parse(row.payload) as AdapterPayload) : row.payload
  const payload: AdapterPayload = {
    ...stored,
    jti: value,
    ...(row.consumed_at ? { consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : {}),
  }
  return { model: row.model, storedId, payload }
}
