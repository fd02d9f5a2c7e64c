// Token signing keys live in the database, private parts sealed by the keyring, so every
// instance signs with the same keys and a rotation reaches all of them. ES256: it verifies
// faster than Ed25519 with this OpenSSL (HLD §11: measured facts).
// Rotation adds a key and retires the previous one; retired keys stay in the JWKS until they
// expire, so tokens signed before the rotation still verify.

import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import type { Database, Queryable } from '../../platform/db/index.ts'
import type { Sealer } from './sealer.ts'

export const SIGNING_ALG = 'ES256'
/** A retired key stays published this long: longer than any token it signed can live. */
const RETIRED_KEY_LIFETIME_DAYS = 35

interface KeyRow {
  kid: string
  private_jwk_sealed: string
  retired_at: Date | null
}

async function createKey(db: Queryable, sealer: Sealer): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true })
  const kid = randomUUID()
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' }
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' }
  await db.query(
    'INSERT INTO signing_keys (kid, use_for, alg, public_jwk, private_jwk_sealed) VALUES ($1, $2, $3, $4, $5)',
    [
      kid,
      'oauth',
      SIGNING_ALG,
      JSON.stringify(publicJwk),
      sealer.seal(JSON.stringify(privateJwk), `signing_keys:${kid}`),
    ],
  )
  return kid
}

const KEY_CREATION_LOCK = 727_000_002 // pg_advisory_xact_lock key: first-key creation

/** The private JWKs oidc-provider signs with: the current key first, then retired ones still valid.
 * The first start creates a key; instances starting together agree on one (advisory lock). */
export async function loadSigningKeys(db: Database, sealer: Sealer): Promise<JWK[]> {
  const read = (q: Queryable) =>
    q.query<KeyRow>(
      `SELECT kid, private_jwk_sealed, retired_at FROM signing_keys
       WHERE use_for = 'oauth' AND (expires_at IS NULL OR expires_at > now())
       ORDER BY retired_at IS NOT NULL, created_at DESC`,
    )
  let { rows } = await read(db)
  if (!rows.some((r) => r.retired_at === null)) {
    rows = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK])
      const again = await read(tx)
      if (again.rows.some((r) => r.retired_at === null)) return again.rows
      await createKey(tx, sealer)
      return (await read(tx)).rows
    })
  }
  return rows.map((r) => JSON.parse(sealer.unseal(r.private_jwk_sealed, `signing_keys:${r.kid}`)) as JWK)
}

/** Adds a new signing key and retires the current one (kept for verification until it expires). */
export async function rotateSigningKey(db: Database, sealer: Sealer): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK])
    await tx.query(
      `UPDATE signing_keys SET retired_at = now(), expires_at = now() + ($1 || ' days')::interval
     WHERE use_for = 'oauth' AND retired_at IS NULL`,
      [String(RETIRED_KEY_LIFETIME_DAYS)],
    )
    return createKey(tx, sealer)
  })
}
