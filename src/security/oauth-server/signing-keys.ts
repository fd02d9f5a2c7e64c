// Token signing keys live in the database, private parts sealed by the keyring, so every
// instance signs with the same keys and a rotation reaches all of them. ES256: it verifies
// faster than Ed25519 with this OpenSSL (HLD §11: measured facts).
// Rotation adds a key and retires the previous one; retired keys stay in the JWKS until they
// expire, so tokens signed before the rotation still verify.

import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { lockForTransaction, type Database, type Queryable } from '../../platform/db/index.ts'
import type { Sealer } from './sealer.ts'
import * as repo from './signing-keys.repository.ts'

export const SIGNING_ALG = 'ES256'
/** A retired key stays published this long: longer than any token it signed can live. */
const RETIRED_KEY_LIFETIME_DAYS = 35

async function createKey(db: Queryable, sealer: Sealer): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true })
  const kid = randomUUID()
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' }
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' }
  await repo.insertSigningKey(db, {
    kid,
    alg: SIGNING_ALG,
    publicJwk,
    privateJwkSealed: sealer.seal(JSON.stringify(privateJwk), `signing_keys:${kid}`),
  })
  return kid
}

const KEY_CREATION_LOCK = 727_000_002 // pg_advisory_xact_lock key: first-key creation

/** The private JWKs oidc-provider signs with: the current key first, then retired ones still valid.
 * The first start creates a key; instances starting together agree on one (advisory lock). */
export async function loadSigningKeys(db: Database, sealer: Sealer): Promise<JWK[]> {
  let rows = await repo.liveSigningKeys(db)
  if (!rows.some((r) => !r.retired)) {
    rows = await db.transaction(async (tx) => {
      await lockForTransaction(tx, KEY_CREATION_LOCK)
      const again = await repo.liveSigningKeys(tx)
      if (again.some((r) => !r.retired)) return again
      await createKey(tx, sealer)
      return repo.liveSigningKeys(tx)
    })
  }
  return rows.map((r) => JSON.parse(sealer.unseal(r.privateJwkSealed, `signing_keys:${r.kid}`)) as JWK)
}

/** Adds a new signing key and retires the current one (kept for verification until it expires). */
export async function rotateSigningKey(db: Database, sealer: Sealer): Promise<string> {
  return db.transaction(async (tx) => {
    await lockForTransaction(tx, KEY_CREATION_LOCK)
    await repo.retireCurrentSigningKey(tx, RETIRED_KEY_LIFETIME_DAYS)
    return createKey(tx, sealer)
  })
}
