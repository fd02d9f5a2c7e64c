// The device authorization grant (RFC 8628): a device with no keyboard is paired by the patient
// on a phone; the device gets tokens only after the patient approves, none when they refuse.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { oidcStorageId } from '../../src/security/oauth-server/postgres-adapter.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { CookieJar, createTestUser, followUntilOutside, postForm, xsrfOf } from '../support/identity.ts'
import { until } from '../integration/server-process.ts'
import { DEVICE_GRANT, deviceGrantWorld, type devicePages } from '../support/device-flow.ts'
import { oauthError, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('device authorization grant', () => {
  let s: OAuthTestServer
  let config: client.Configuration
  let deviceId: string
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let d: ReturnType<typeof devicePages>

  before(async () => {
    s = await startOAuthTestServer()
    ;({ config, deviceId, patient, pages: d } = await deviceGrantWorld(s))
  })
  after(() => s.close())

  test('[SRS-OAUTH-006] the device gets tokens after the patient approves the user code', async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write account:read' })
    assert.match(auth.user_code, /^[A-Z]{4}-[A-Z]{4}$/)
    assert.equal(auth.verification_uri, `${s.issuer}/oauth/device`)
    // The device's address and user agent are not kept with its code (ADR-0040).
    const { rows: stored } = await s.db.query<{ info: unknown }>(
      "SELECT payload->'deviceInfo' AS info FROM oidc_payloads WHERE model = 'DeviceCode' AND id = $1",
      [oidcStorageId(createKeyring(TEST_KEYRING), auth.device_code)],
    )
    assert.deepEqual(stored, [{ info: {} }], 'the device code keeps no device information')
    // Before approval, polling says to wait.
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'authorization_pending',
    )
    const done = await d.patientVisits(auth.user_code, { confirm: true, consent: 'allow' })
    assert.match(done.page ?? '', /Device connected/)
    const tokens = await client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code })
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 200)
    const body = (await me.json()) as { kind: string; id: string; clientId: string }
    assert.equal(body.id, patient.id, 'the token acts for the patient who approved')
    assert.equal(body.clientId, deviceId)
    // The device code is single-use.
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  /** The page a person sees once they refused the device: it says so, and offers no form for the code. */
  function assertNotConnected(shown: { status: number; page?: string }, what: string) {
    assert.match(shown.page ?? '', /<h1>Device not connected<\/h1>/, `${what}: ${shown.page?.slice(0, 400)}`)
    assert.match(shown.page ?? '', /role="status">The device was not connected/, what)
    assert.doesNotMatch(shown.page ?? '', /could not continue|autocomplete="one-time-code"/, what)
    assert.match(
      shown.page ?? '',
      new RegExp(`<a href="${s.issuer}/oauth/device">`),
      `${what}: a link to start again`,
    )
  }

  /** The patient refuses the device (at the confirmation, or at consent): the page says so, the device gets access_denied. */
  async function refuse(choice: { confirm: boolean; consent: 'deny' }, what: string) {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write' })
    const shown = await d.patientVisits(auth.user_code, choice)
    assert.equal(shown.status, 200)
    assertNotConnected(shown, what)
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'access_denied',
    )
  }

  test('[SRS-OAUTH-006] [SRS-OAUTH-540] denied at consent → the device gets access_denied and no tokens, and the page says it was not connected', () =>
    refuse({ confirm: true, consent: 'deny' }, 'denied at consent'))

  test('[SRS-OAUTH-006] [SRS-OAUTH-540] aborted at the code confirmation → access_denied, and the page says it was not connected', () =>
    refuse({ confirm: false, consent: 'deny' }, 'aborted'))

  test('[SRS-OAUTH-540] Abort pressed twice at once (a double click), or again on the page left open, says the device was not connected each time', async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write' })
    const { jar, form } = await d.codeConfirmation(auth.user_code)
    // The browser shows the second response of a double click; the first may be either.
    const clicks = await Promise.all([d.press(jar, form, 'abort'), d.press(jar, form, 'abort')])
    for (const [i, res] of clicks.entries()) {
      assertNotConnected(
        { status: res.status, page: await res.text() },
        `click ${i + 1} of 2 (${res.status})`,
      )
    }
    jar.store(clicks[1] as Response)
    // Abort again, later, on the confirmation page still open in another tab (its form as it was).
    const again = await d.answerConfirmation(jar, form, 'abort')
    assertNotConnected(again, 'Abort on the page left open')
    // Continue on that page now is refused: the refusal does not become a connection.
    const late = await d.answerConfirmation(jar, form, 'confirm')
    assert.match(late.page ?? '', /already been used|could not continue/, late.page?.slice(0, 400))
    // The device's first poll after the refusal is told so (oidc-provider then forgets the code).
    await assert.rejects(
      client.genericGrantRequest(config, DEVICE_GRANT, { device_code: auth.device_code }),
      (err) => oauthError(err) === 'access_denied',
    )
  })

  /** Whom a device's tokens act for. */
  async function actingFor(deviceCode: string): Promise<string> {
    const tokens = await client.genericGrantRequest(config, DEVICE_GRANT, { device_code: deviceCode })
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 200)
    return ((await me.json()) as { id: string }).id
  }

  test('[SRS-OAUTH-539] a user code confirmed by two people at once goes on for one of them: the other is refused, and the device acts for the one who approved', async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write account:read' })
    const other = await createTestUser(s.db, {
      email: `other-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: null }],
    })
    const people = [patient, other]
    const confirmations = await Promise.all(people.map(() => d.codeConfirmation(auth.user_code)))
    // Both press Continue at once (two people at a shared device, or one form submitted twice).
    const after = await Promise.all(confirmations.map(({ jar, form }) => d.answerConfirmation(jar, form)))
    const statuses = after.map((a) => a.status).join(', ')
    const went = after.flatMap((a, i) => (/action="[^"]*\/login"/.test(a.page ?? '') ? [i] : []))
    assert.equal(went.length, 1, `one goes on to sign in (${statuses})`)
    const i = went[0] as number
    const refused = after[1 - i]
    assert.equal(refused?.status, 400, `the other is refused (${statuses})`)
    assert.match(refused?.page ?? '', /autocomplete="one-time-code"/, 'and shown the code form again')
    const done = await d.signInAndDecide(
      confirmations[i]?.jar as CookieJar,
      after[i]?.page ?? '',
      'allow',
      people[i],
    )
    assert.match(done.page ?? '', /Device connected/)
    assert.equal(await actingFor(auth.device_code), people[i]?.id, 'the device acts for the one who went on')
  })

  test('[SRS-OAUTH-539] the browser that confirmed a user code may enter and confirm it again (after a double click, or a sign-in left), and connects the device; another browser may not', async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write account:read' })
    const { jar, form } = await d.codeConfirmation(auth.user_code)
    // A double click: the browser drops the first response and shows the second's. The second is
    // refused when the first has used the form's xsrf token already (oidc-provider's), and may go on
    // when the two overlap; either way the code is left confirmed by this browser.
    const clicks = await Promise.all([d.press(jar, form, 'confirm'), d.press(jar, form, 'confirm')])
    assert.ok(
      clicks.some((r) => r.status === 303),
      `one goes on (${clicks.map((r) => r.status).join(', ')})`,
    )
    for (const refused of clicks.filter((r) => r.status === 400)) {
      const page = await refused.text()
      assert.match(page, /Enter the code again/, 'the refused click offers the code form again')
      assert.match(page, /autocomplete="one-time-code"/)
    }
    jar.store(clicks[1] as Response)
    // Another browser entering the code now is refused, as before (user_code_used).
    const stranger = await d.enterCode(auth.user_code)
    assert.equal(stranger.status, 400)
    assert.match(stranger.page ?? '', /That code is not right/)
    // The person enters the code again in the same browser (oidc-provider refused a code in flight,
    // so they were stuck until the device started over), confirms, signs in and approves.
    const again = await d.codeConfirmation(auth.user_code, jar)
    const login = await d.answerConfirmation(jar, again.form)
    const done = await d.signInAndDecide(jar, login.page ?? '', 'allow')
    assert.match(done.page ?? '', /Device connected/)
    assert.equal(await actingFor(auth.device_code), patient.id)
  })

  test("[SRS-OAUTH-538] [SRS-OAUTH-543] each resume of the patient's sign-in and approval sent twice at once goes on once, and the device is connected for the patient", async () => {
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'device-data:write account:read' })
    const { jar, form } = await d.codeConfirmation(auth.user_code)
    const after = await d.answerConfirmation(jar, form)
    // On PostgreSQL the two of a pair overlap; on PGlite, one connection, they may run one after
    // the other (the adapter's test makes them overlap on both).
    const done = await d.signInAndDecide(jar, after.page ?? '', 'allow', patient, true)
    assert.equal(done.pairs.length, 2, 'the sign-in and the approval were each resumed')
    for (const [n, pair] of done.pairs.entries()) {
      const statuses = pair.map((r) => r.status).join(', ')
      assert.equal(pair.filter((r) => r.status < 400).length, 1, `resume ${n + 1}: one goes on (${statuses})`)
      assert.equal(
        pair.filter((r) => r.status === 400).length,
        1,
        `resume ${n + 1}: the other is refused (${statuses})`,
      )
    }
    assert.match(done.page ?? '', /Device connected/)
    assert.equal(await actingFor(auth.device_code), patient.id)
  })

  test('[SRS-OAUTH-006] a wrong user code is refused on the page', async () => {
    const res = await d.enterCode('BCDF-GHJK')
    assert.match(res.page ?? '', /That code is not right/)
  })

  test('[SRS-AUDIT-030] an unknown or missing user code is answered 400 with the form again, and audited as a refusal', async () => {
    for (const [typed, rule, says] of [
      ['BCDF-GHJK', 'user_code_not_found', /That code is not right, has expired, or has already been used/],
      ['', 'user_code_missing', /Enter the code your device shows/],
    ] as const) {
      const jar = new CookieJar()
      const input = await followUntilOutside(s.issuer, `${s.issuer}/oauth/device`, jar)
      const xsrf = xsrfOf(input.page ?? '')
      const res = await fetch(`${s.issuer}/oauth/device`, {
        ...postForm({ xsrf, user_code: typed }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
        redirect: 'manual',
      })
      assert.equal(res.status, 400, rule)
      const page = await res.text()
      assert.match(page, says, rule)
      assert.match(page, /autocomplete="one-time-code"/, 'the form is shown again')
      const requestId = res.headers.get('x-request-id')
      const entries = await until(
        `the ${rule} entry`,
        async () => {
          const { rows } = await s.db.query<{
            action: string
            outcome: string
            status: number
            rule: string
          }>(
            'SELECT action, outcome, status, decision_rule AS rule FROM audit_entries WHERE request_id = $1 ORDER BY action',
            [requestId],
          )
          return rows.length === 2 ? rows : undefined
        },
        10_000,
      )
      // The request's own entry (a failed form post) and the one that says why.
      assert.deepEqual(entries, [
        { action: 'POST /oauth/device', outcome: 'failure', status: 400, rule: null },
        { action: 'oauth.code_verification', outcome: 'denied', status: 400, rule },
      ])
    }
  })

  test('[SRS-OAUTH-535] a code form posted without its session (no cookie) is answered 400 with a way to start again, not a server error', async () => {
    const jar = new CookieJar()
    const input = await followUntilOutside(s.issuer, `${s.issuer}/oauth/device`, jar)
    const xsrf = xsrfOf(input.page ?? '')
    // The same form, posted by a browser that did not keep the cookie (blocked, or the session gone).
    const res = await fetch(`${s.issuer}/oauth/device`, {
      ...postForm({ xsrf, user_code: 'BCDF-GHJK' }),
      redirect: 'manual',
    })
    assert.equal(res.status, 400)
    assert.match(String(res.headers.get('content-type')), /^text\/html/)
    const page = await res.text()
    assert.match(page, /This page has expired/)
    const again = /<a href="([^"]+)">/.exec(page)?.[1] ?? ''
    assert.equal(again, `${s.issuer}/oauth/device`, 'the page links to the code form')
    const requestId = res.headers.get('x-request-id')
    const entry = await until(
      'the refusal entry',
      async () =>
        (
          await s.db.query<{ outcome: string; status: number; rule: string }>(
            "SELECT outcome, status, decision_rule AS rule FROM audit_entries WHERE request_id = $1 AND action = 'oauth.code_verification'",
            [requestId],
          )
        ).rows[0],
      10_000,
    )
    assert.deepEqual({ ...entry }, { outcome: 'denied', status: 400, rule: 'invalid_request' })
    // Following the link gives a form that works: a new session, a new secret.
    const jar2 = new CookieJar()
    const fresh = await followUntilOutside(s.issuer, again, jar2)
    assert.equal(fresh.status, 200)
    assert.match(fresh.page ?? '', /autocomplete="one-time-code"/)
  })

  test('[SRS-DATA-013] a registered device paired through the device grant is bound to the approving patient and writes for them; nobody else can take it over', async () => {
    const regId = `registered-meter-${randomUUID()}`
    const regSecret = 'registered-device-secret-0123456789abcdef'
    await s.clients.upsert({
      clientId: regId,
      secret: regSecret,
      metadata: {
        client_id: regId,
        client_name: 'Registered meter',
        grant_types: [DEVICE_GRANT],
        response_types: [],
        redirect_uris: [],
        scope: 'device-data:write',
      },
    })
    const deviceRow = randomUUID()
    await s.db.query(
      "INSERT INTO devices (id, client_id, manufacturer, model, serial, type) VALUES ($1, $2, 'Acme', 'GrantMeter', $3, 'glucometer')",
      [deviceRow, regId, `SN-${deviceRow}`],
    )
    const { patients } = s.app.vigil.modules
    const record = (
      await patients.create({ userId: patient.id, demographics: { name: { family: 'Granting' } } })
    ).id
    const intruder = await createTestUser(s.db, {
      email: `intruder-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: null }],
    })
    await patients.create({ userId: intruder.id, demographics: { name: { family: 'Intruding' } } })
    const regConfig = await s.discover(regId, client.ClientSecretBasic(regSecret))

    const auth = await client.initiateDeviceAuthorization(regConfig, { scope: 'device-data:write' })
    await d.patientVisits(auth.user_code, { confirm: true, consent: 'allow' })
    const tokens = await client.genericGrantRequest(regConfig, DEVICE_GRANT, {
      device_code: auth.device_code,
    })
    const { rows: bound } = await s.db.query<{ patient_id: string; bound_by: string }>(
      'SELECT patient_id, bound_by FROM device_bindings WHERE device_id = $1 AND unbound_at IS NULL',
      [deviceRow],
    )
    assert.deepEqual(
      bound,
      [{ patient_id: record, bound_by: `device-grant:${patient.id}` }],
      "bound to the approver's record when they allowed it",
    )

    const post = (token: string) =>
      fetch(`${s.issuer}/api/v2/device-data`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          readings: [
            {
              id: `grant-${randomUUID()}`,
              code: '2339-0',
              value: 98,
              unit: 'mg/dL',
              effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
            },
          ],
        }),
      })
    const posted = await post(tokens.access_token)
    assert.equal(posted.status, 200, await posted.clone().text())
    const { rows: stored } = await s.db.query<{ patient_id: string }>(
      'SELECT patient_id FROM readings WHERE device_id = $1',
      [deviceRow],
    )
    assert.deepEqual(
      stored.map((r) => r.patient_id),
      [record],
    )

    // Another patient approving the same device is refused: it stays paired with its patient.
    const second = await client.initiateDeviceAuthorization(regConfig, { scope: 'device-data:write' })
    await d.patientVisits(second.user_code, { confirm: true, consent: 'allow' }, intruder)
    await assert.rejects(
      client.genericGrantRequest(regConfig, DEVICE_GRANT, { device_code: second.device_code }),
      (err) => oauthError(err) === 'access_denied',
    )

    // Moved to someone else by an administrator: the old token speaks for a patient the device no longer serves.
    await s.db.query(
      'UPDATE device_bindings SET unbound_at = now() WHERE device_id = $1 AND unbound_at IS NULL',
      [deviceRow],
    )
    assert.equal((await post(tokens.access_token)).status, 401)
  })
})
