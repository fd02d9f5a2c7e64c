// Fault tests (SRS-OAUTH-544, SRS-OAUTH-545, ADR-0013): a database connection ended in the middle
// of an OAuth write, with a real PostgreSQL of the test's own. A row the server is about to write
// (or to lock) is held by the test's own transaction; the server statement waiting on it is ended
// (pg_terminate_backend, as a failover, an operator or an idle-session killer ends a backend), and
// the lock released, so the very next statement, on a fresh connection, succeeds. The request that
// failed must leave nothing half-done: the patient approving a device can enter the code again; a
// device exchanging its code, or an app refreshing its token, can retry and get its tokens.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import pg from 'pg'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { totpCode } from '../../src/modules/users/index.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { oidcStorageId } from '../../src/security/oauth-server/postgres-adapter.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { DEVICE_GRANT, deviceGrantWorld, type devicePages } from '../support/device-flow.ts'
import {
  CookieJar,
  csrfOf,
  followUntilOutside,
  postForm,
  createTestUser,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { oauthError, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { mintToken } from '../support/world.ts'
import { removeDir, tempDir, until } from './server-process.ts'

describe('a database connection ended in the middle of an OAuth write', () => {
  let base: string
  let cluster: PgCluster
  let url: string
  let s: OAuthTestServer | undefined
  let config: client.Configuration
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let d: ReturnType<typeof devicePages>
  let deviceId: string

  before(async () => {
    base = tempDir('faults-oauth')
    cluster = await PgCluster.create(base)
    cluster.start()
    url = await cluster.createDatabase('vigil_oauth_faults')
    s = await startOAuthTestServer({ env: { DATABASE_URL: url } })
    ;({ config, deviceId, patient, pages: d } = await deviceGrantWorld(s))
  })
  after(async () => {
    await s?.close()
    await cluster?.destroy()
    removeDir(base)
  })

  /** The device code's row, locked by the test. */
  const deviceCodeRow = (deviceCode: string) => ({
    sql: "SELECT 1 FROM oidc_payloads WHERE model = 'DeviceCode' AND id = $1 FOR UPDATE",
    params: [oidcStorageId(createKeyring(TEST_KEYRING), deviceCode)],
  })
  /** Every grant's row (a code or token is written only while its grant is stored, under a key-share lock). */
  const grantRows = { sql: "SELECT 1 FROM oidc_payloads WHERE model = 'Grant' FOR UPDATE", params: [] }

  /** Runs `during` while `rows` are locked; ends the server statement that waits on the lock, then releases it. */
  async function endingTheStatementThatWrites<T>(
    rows: { sql: string; params: unknown[] },
    during: () => Promise<T>,
  ): Promise<T> {
    const locker = new pg.Client({ connectionString: url })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      const locked = await locker.query(rows.sql, rows.params)
      assert.notEqual(locked.rowCount, 0, 'the rows to lock are stored')
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
    const failed = await endingTheStatementThatWrites(deviceCodeRow(auth.device_code), () =>
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

  /** The device's tokens once the patient approved its code (with a refresh token: offline_access). */
  async function pairedDevice() {
    const auth = await client.initiateDeviceAuthorization(config, {
      scope: 'device-data:write account:read offline_access',
    })
    const shown = await d.patientVisits(auth.user_code, { confirm: true, consent: 'allow' })
    assert.match(shown.page ?? '', /Device connected/)
    return auth
  }

  /** Who a token acts for (GET /api/v2/me), or the status it was refused with. */
  const actingFor = async (accessToken: string) => {
    const me = await fetch(`${s?.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${accessToken}` } })
    return me.status === 200 ? ((await me.json()) as { id: string }).id : me.status
  }

  /** The status a token request was answered with, when openid-client refused it (a 503 is no OAuth error response). */
  const statusOf = (request: Promise<unknown>) =>
    request.then(
      () => 200,
      (err: { cause?: unknown }) => (err.cause instanceof Response ? err.cause.status : String(err)),
    )

  test("[SRS-OAUTH-545] a server statement ended while the device exchanges its approved code leaves the code unused: the device's next poll gets its tokens", async () => {
    const auth = await pairedDevice()
    const failed = await endingTheStatementThatWrites(grantRows, () =>
      statusOf(client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code })),
    )
    assert.equal(failed, 503, 'the exchange failed, as a database outage (retry later)')
    // The device polls again: its code was not used up by the exchange that failed (it was, and the
    // device was told invalid_grant: unpaired, the patient had to pair it again).
    const tokens = await client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code })
    assert.equal(await actingFor(tokens.access_token), patient.id)
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'invalid_grant',
      'the code is used once it has given tokens',
    )
  })

  test('[SRS-OAUTH-545] a server statement ended during a refresh leaves the refresh token usable and the grant standing: the retry rotates it, and reuse detection still holds', async () => {
    const auth = await pairedDevice()
    const first = await client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code })
    const refreshToken = String(first.refresh_token)
    const failed = await endingTheStatementThatWrites(grantRows, () =>
      statusOf(client.refreshTokenGrant(config, refreshToken)),
    )
    assert.equal(failed, 503, 'the refresh failed, as a database outage (retry later)')
    // The retry was taken for a replay of a rotated refresh token, and the whole grant revoked.
    assert.equal(await actingFor(first.access_token), patient.id, 'the grant stands: its access token works')
    const rotated = await client.refreshTokenGrant(config, refreshToken)
    assert.equal(await actingFor(rotated.access_token), patient.id, 'the retry gets new tokens')
    assert.notEqual(rotated.refresh_token, refreshToken, 'and a new refresh token')
    // Rotation and reuse detection are unchanged: the refresh token used is refused now, and its
    // reuse revokes the grant (RFC 9700 §4.14.2).
    await assert.rejects(
      client.refreshTokenGrant(config, refreshToken),
      (err) => oauthError(err) === 'invalid_grant',
    )
    assert.equal(await actingFor(rotated.access_token), 401, 'the reuse revoked the grant')
  })

  /** A patient of their own (the password tests change it), signed in through the device pages: their browser and the device's tokens. */
  async function signedInWithDevice() {
    const w = await deviceGrantWorld(s as OAuthTestServer)
    const auth = await client.initiateDeviceAuthorization(w.config, {
      scope: 'device-data:write account:read offline_access',
    })
    const { jar, form } = await w.pages.codeConfirmation(auth.user_code)
    const login = await w.pages.answerConfirmation(jar, form)
    const shown = await w.pages.signInAndDecide(jar, login.page ?? '', 'allow')
    assert.match(shown.page ?? '', /Device connected/)
    const tokens = await client.genericGrantRequest(w.config, DEVICE_GRANT, { device_code: auth.device_code })
    /** The tokens from before are dead: the access token 401, the refresh token invalid_grant. */
    const assertRevoked = async () => {
      assert.equal(await actingFor(tokens.access_token), 401, 'the access token from before is revoked')
      await assert.rejects(
        client.refreshTokenGrant(w.config, String(tokens.refresh_token)),
        (err) => oauthError(err) === 'invalid_grant',
        'the refresh token from before is revoked',
      )
    }
    return { patient: w.patient, jar, tokens, assertRevoked }
  }

  const NEW_PASSWORD = 'a brand new passphrase 42'
  /** Opens the page at `path` in `jar` and posts its form with `fields` (and its csrf). */
  async function postPage(path: string, fields: Record<string, string>, jar = new CookieJar()) {
    const page = await followUntilOutside(s?.issuer ?? '', `${s?.issuer}${path}`, jar)
    assert.equal(page.status, 200, page.page?.slice(0, 300))
    return () =>
      followUntilOutside(
        s?.issuer ?? '',
        `${s?.issuer}${path}`,
        jar,
        postForm({ ...fields, csrf: csrfOf(page.page ?? '') }),
      )
  }

  // The reset's statements that can be ended: the revocation (waiting on the account's grants), and
  // the clearing of the sign-in delay the old password had earned (waiting on its counter's row).
  const resetHolds: readonly [string, (accountId: string) => Promise<{ sql: string; params: unknown[] }>][] =
    [
      ['the revocation of its sessions', async () => grantRows],
      [
        'the clearing of its sign-in delay',
        async (accountId) => {
          await (s as OAuthTestServer).db.query(
            'INSERT INTO login_throttle (key, failures, window_started_at, last_failure_at) VALUES ($1, 3, now(), now())',
            [`account:${accountId}`],
          )
          return {
            sql: 'SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE',
            params: [`account:${accountId}`],
          }
        },
      ],
    ]
  for (const [what, hold] of resetHolds) {
    test(`[SRS-AUTH-009] a server statement ended while a reset link sets the password (${what}) leaves the password and the sessions as they were and the link usable; used again, it changes both`, async () => {
      const { patient, tokens, assertRevoked } = await signedInWithDevice()
      const link = await createAccountDirectory({
        db: (s as OAuthTestServer).db,
        keyring: createKeyring(TEST_KEYRING),
      }).requestPasswordReset({ email: patient.email, ip: '127.0.0.1' })
      const path = `/account/password-reset/${link?.token}`
      const fields = { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }
      const failed = await endingTheStatementThatWrites(await hold(patient.id), await postPage(path, fields))
      assert.equal(failed.status, 503, 'the reset failed, as a database outage (retry later)')
      // Nothing changed: the link still shows its form (it was used up, the password changed, and
      // the tokens issued before, which the reset exists to end, went on working).
      assert.equal(await actingFor(tokens.access_token), patient.id)
      const done = await (await postPage(path, fields))()
      assert.equal(done.status, 200)
      assert.match(done.page ?? '', /Your password is changed/)
      await assertRevoked()
      const { rows } = await (s as OAuthTestServer).db.query('SELECT 1 FROM login_throttle WHERE key = $1', [
        `account:${patient.id}`,
      ])
      assert.deepEqual(rows, [], 'the sign-in delay is cleared with the reset')
    })
  }

  test('[SRS-AUTH-009] a server statement ended while a signed-in person changes their password leaves it unchanged and every session as it was; changed again, the other sessions and tokens end', async () => {
    const { patient, jar, tokens, assertRevoked } = await signedInWithDevice()
    const fields = {
      currentPassword: TEST_PASSWORD,
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
    }
    const failed = await endingTheStatementThatWrites(
      grantRows,
      await postPage('/account/password', fields, jar),
    )
    assert.equal(failed.status, 503, 'the change failed, as a database outage (retry later)')
    assert.equal(await actingFor(tokens.access_token), patient.id)
    // The password is unchanged: the same change, with the same current password, now goes through
    // (it had changed, with the other sessions and tokens left alive).
    const done = await (await postPage('/account/password', fields, jar))()
    assert.equal(done.status, 200, done.page?.slice(0, 300))
    assert.match(done.page ?? '', /Your password is changed/)
    await assertRevoked()
  })

  test('[SRS-AUTH-010] a server statement ended while an administrator disables an account leaves it enabled with its tokens; disabled again, its tokens end and enabling it does not revive them', async () => {
    const { patient, tokens, assertRevoked } = await signedInWithDevice()
    const admin = await createTestUser((s as OAuthTestServer).db, {
      email: `admin-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
    })
    const bearer = await mintToken((s as OAuthTestServer).app, s?.issuer ?? '', {
      clientId: deviceId,
      accountId: admin.id,
      scope: 'admin:users',
    })
    const set = (to: 'disable' | 'enable') =>
      fetch(`${s?.issuer}/api/v2/users/${patient.id}/${to}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}` },
      }).then((res) => res.status)
    assert.equal(await endingTheStatementThatWrites(grantRows, () => set('disable')), 503)
    // Neither half happened: the account is enabled and its token works (it was disabled with its
    // tokens left, which enabling it later would have revived).
    assert.equal(await actingFor(tokens.access_token), patient.id)
    assert.equal(await set('disable'), 200)
    assert.equal(await set('enable'), 200)
    await assertRevoked()
  })

  test('[SRS-AUTH-011] a server statement ended while a person confirms their second factor leaves it unenrolled; the same code then enrols it, shows the recovery codes and signs them in', async () => {
    // An administrator: a role that signs in with a second factor, enrolled at the first sign-in.
    const person = await createTestUser((s as OAuthTestServer).db, {
      email: `admin-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
    })
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'account:read' })
    const { jar, form } = await d.codeConfirmation(auth.user_code)
    const login = await d.answerConfirmation(jar, form)
    const enrolPage = await followUntilOutside(
      s?.issuer ?? '',
      new URL(/action="([^"]*\/login)"/.exec(login.page ?? '')?.[1] ?? '', s?.issuer).toString(),
      jar,
      postForm({ email: person.email, password: TEST_PASSWORD, csrf: csrfOf(login.page ?? '') }),
    )
    const secret = /enter this key by hand: <code>([A-Z2-7]+)<\/code>/.exec(enrolPage.page ?? '')?.[1]
    assert.ok(secret, `the enrolment page shows its key: ${enrolPage.page?.slice(0, 400)}`)
    const confirm = () =>
      followUntilOutside(
        s?.issuer ?? '',
        new URL(/action="([^"]*\/enrol)"/.exec(enrolPage.page ?? '')?.[1] ?? '', s?.issuer).toString(),
        jar,
        postForm({ code: totpCode(secret, new Date()), csrf: csrfOf(enrolPage.page ?? '') }),
      )
    // The recovery codes' table held, so their write waits and is ended.
    const recoveryCodes = { sql: 'LOCK TABLE recovery_codes IN SHARE MODE', params: [] }
    const failed = await endingTheStatementThatWrites(recoveryCodes, confirm)
    assert.equal(failed.status, 503, 'the confirmation failed, as a database outage (retry later)')
    // The factor was confirmed without recovery codes, and the same form refused ("not enrolled"):
    // the person could not see a recovery code, ever. Now nothing was written; the retry enrols.
    const shown = await confirm()
    assert.equal(shown.status, 200, shown.page?.slice(0, 400))
    assert.match(shown.page ?? '', /Save your recovery codes/)
    assert.equal(shown.page?.match(/<li><code>/g)?.length, 10, 'ten recovery codes, shown once')
    const { rows } = await (s as OAuthTestServer).db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL',
      [person.id],
    )
    assert.deepEqual(rows, [{ n: 10 }])
    const consent = await followUntilOutside(
      s?.issuer ?? '',
      new URL(/action="([^"]*\/continue)"/.exec(shown.page ?? '')?.[1] ?? '', s?.issuer).toString(),
      jar,
      postForm({ csrf: csrfOf(shown.page ?? '') }),
    )
    assert.match(consent.page ?? '', /Allow access\?/, 'the sign-in goes on')
  })
})
