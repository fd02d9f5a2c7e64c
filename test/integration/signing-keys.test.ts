// Token signing keys live in the database (private parts sealed) and rotate: after a rotation
// the new key signs, and the old key stays published, so what it signed still verifies, until
// it expires.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose'
import { createKeyring, keyringSealer } from '../../src/platform/crypto/keyring.ts'
import { loadSigningKeys, rotateSigningKey, type Sealer } from '../../src/security/oauth-server/index.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createTestApp, openIsolatedDatabase } from '../support/app.ts'
import { TEST_KEYRING } from '../support/config.ts'

describe('signing key rotation', () => {
  const keyring = createKeyring(TEST_KEYRING)
  const sealer: Sealer = keyringSealer(keyring)
  // Rotation changes keys every instance shares: on PostgreSQL this test gets a schema of its own.
  let db: Database
  let drop: () => Promise<void>
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
  })
  after(() => drop())

  const jwksOf = async () => {
    const t = await createTestApp({ deps: { db } })
    try {
      return (await t.app.inject({ method: 'GET', url: '/oauth/jwks' })).json() as {
        keys: (JWK & { kid: string })[]
      }
    } finally {
      await t.close()
    }
  }

  test('[SRS-OAUTH-001] private keys are stored sealed; the JWKS publishes public parts only', async () => {
    const [current] = await loadSigningKeys(db, sealer)
    assert.ok(current?.d, 'the loaded key is private')
    const { rows } = await db.query<{ private_jwk_sealed: string }>(
      'SELECT private_jwk_sealed FROM signing_keys WHERE kid = $1',
      [current.kid],
    )
    assert.ok(rows[0] && !rows[0].private_jwk_sealed.includes(String(current.d)), 'not in plaintext at rest')
    const jwks = await jwksOf()
    assert.ok(jwks.keys.some((k) => k.kid === current.kid))
    assert.ok(jwks.keys.every((k) => k.d === undefined))
  })

  test('[SRS-OAUTH-001] after rotation the new key signs and a token signed by the old key still verifies until the old key expires', async () => {
    const [old] = await loadSigningKeys(db, sealer)
    assert.ok(old?.kid)
    const signedBefore = await new SignJWT({ scope: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: old.kid })
      .setIssuer('test')
      .setExpirationTime('5m')
      .sign(await importJWK(old, 'ES256'))

    const newKid = await rotateSigningKey(db, sealer)
    const [current] = await loadSigningKeys(db, sealer)
    assert.equal(
      current?.kid,
      newKid,
      'the newest key is the one oidc-provider signs with (first in the list)',
    )

    const jwks = await jwksOf()
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [newKid, old.kid].sort())
    await jwtVerify(signedBefore, createLocalJWKSet(jwks), { issuer: 'test' })

    // Once the retired key expires it leaves the JWKS, and what it signed no longer verifies.
    await db.query("UPDATE signing_keys SET expires_at = now() - interval '1 second' WHERE kid = $1", [
      old.kid,
    ])
    const later = await jwksOf()
    assert.deepEqual(
      later.keys.map((k) => k.kid),
      [newKid],
    )
    await assert.rejects(jwtVerify(signedBefore, createLocalJWKSet(later), { issuer: 'test' }))
  })
})
