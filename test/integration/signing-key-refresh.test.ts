// Signing-key rotation reaches running instances without a restart (issue 12; ADR-0017): two apps
// on one database, a rotation made elsewhere (as `vigil keys rotate-signing` does), and both
// instances publish the new key first, the old one still beside it, within a few intervals.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createKeyring, keyringSealer } from '../../src/platform/crypto/keyring.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { rotateSigningKey } from '../../src/security/oauth-server/index.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { until } from './server-process.ts'

describe('signing-key rotation picked up by running instances', () => {
  let db: Database
  let drop: () => Promise<void>
  const apps: TestApp[] = []
  before(async () => {
    ;({ db, drop } = await openIsolatedDatabase())
    for (let i = 0; i < 2; i++) apps.push(await createTestApp({ deps: { db, signingKeyRefreshMs: 100 } }))
  })
  after(async () => {
    for (const a of apps) await a.close()
    await drop()
  })

  test('[SRS-OAUTH-250] after a rotation in the shared database every running instance publishes and signs with the new key, keeping the old one published', async () => {
    const jwks = async (t: TestApp) =>
      (
        (await t.app.inject({ method: 'GET', url: '/oauth/jwks' })).json() as { keys: Array<{ kid: string }> }
      ).keys.map((k) => k.kid)
    const before = await Promise.all(apps.map(jwks))
    assert.deepEqual(before[0], before[1], 'the instances agree before the rotation')
    const old = before[0]![0]!
    const rotatedAt = performance.now()
    const created = await rotateSigningKey(db, keyringSealer(createKeyring(TEST_KEYRING)))
    const took = await until(
      'every instance on the new key',
      async () => {
        const now = await Promise.all(apps.map(jwks))
        return now.every((kids) => kids[0] === created) ? performance.now() - rotatedAt : undefined
      },
      10_000,
      50,
    )
    for (const t of apps) {
      const kids = await jwks(t)
      assert.equal(kids[0], created, 'the new key is current (listed first, used to sign)')
      assert.ok(kids.includes(old), 'the retired key stays published for what it signed')
      assert.ok(t.logs.text.includes('signing keys reloaded'))
    }
    console.log(`# signing-key rotation reached 2 running instances in ${Math.round(took)} ms`)
  })
})
