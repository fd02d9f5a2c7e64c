// Fault test (SRS-OAUTH-544, ADR-0013): the database fails under the patient's approval of a
// device, with a real PostgreSQL of the test's own. The device's code is held by a row lock while
// the patient approves; the server statement waiting on it is ended (pg_terminate_backend, as a
// failover, an operator or an idle-session killer ends a backend), and the lock released, so the
// very next statement, on a fresh connection, succeeds. The request that failed must not end the
// device's pairing: the device keeps waiting, and the patient, entering the code again in the same
// browser, connects it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import pg from 'pg'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { oidcStorageId } from '../../src/security/oauth-server/postgres-adapter.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { DEVICE_GRANT, deviceGrantWorld, type devicePages } from '../support/device-flow.ts'
import type { createTestUser } from '../support/identity.ts'
import { oauthError, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { removeDir, tempDir, until } from './server-process.ts'

describe('a database failure while the patient approves a device', () => {
  let base: string
  let cluster: PgCluster
  let url: string
  let s: OAuthTestServer | undefined
  let config: client.Configuration
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let d: ReturnType<typeof devicePages>

  before(async () => {
    base = tempDir('faults-device')
    cluster = await PgCluster.create(base)
    cluster.start()
    url = await cluster.createDatabase('vigil_device_pairing')
    s = await startOAuthTestServer({ env: { DATABASE_URL: url } })
    ;({ config, patient, pages: d } = await deviceGrantWorld(s))
  })
  after(async () => {
    await s?.close()
    await cluster?.destroy()
    removeDir(base)
  })

  /** Runs `during` while the device code's row is locked; ends the server statement that waits on the lock, then releases it. */
  async function endingTheStatementThatWrites<T>(deviceCode: string, during: () => Promise<T>): Promise<T> {
    const locker = new pg.Client({ connectionString: url })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      const locked = await locker.query(
        "SELECT 1 FROM oidc_payloads WHERE model = 'DeviceCode' AND id = $1 FOR UPDATE",
        [oidcStorageId(createKeyring(TEST_KEYRING), deviceCode)],
      )
      assert.equal(locked.rowCount, 1, 'the device code is stored')
      const running = during()
      const waiting = await until(
        'a server statement waiting on the device code',
        async () => {
          const { rows } = await locker.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
          )
          return rows[0]
        },
        10_000,
      )
      await locker.query('SELECT pg_terminate_backend($1)', [waiting.pid])
      await locker.query('COMMIT')
      return await running
    } finally {
      await locker.end()
    }
  }

  test('[SRS-OAUTH-544] a server statement ended during the approval leaves the device waiting, and the code entered again in the same browser connects it', async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write account:read' })
    const { jar, form } = await d.codeConfirmation(auth.user_code)
    const login = await d.answerConfirmation(jar, form)
    const consent = await d.signIn(jar, login.page ?? '')
    const failed = await endingTheStatementThatWrites(auth.device_code, () =>
      d.decide(jar, consent.page ?? '', 'allow'),
    )
    assert.equal(failed.status, 503, 'the approval failed, as a database outage (retry later)')
    // The device, polling, is told to wait (it was told server_error, which ends its pairing).
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'authorization_pending',
    )
    // The patient enters the code again in the same browser (it was refused as used) and confirms:
    // the approval they gave is kept with their grant, so the device is connected.
    const again = await d.codeConfirmation(auth.user_code, jar)
    const done = await d.answerConfirmation(jar, again.form)
    assert.match(done.page ?? '', /Device connected/, done.page?.slice(0, 400))
    const tokens = await client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code })
    const me = await fetch(`${s?.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 200)
    assert.equal(((await me.json()) as { id: string }).id, patient.id, 'the device acts for the patient')
  })
})
