// The web console in Chromium (issue 15, follow-up; ADR-0027): a patient unpairs their device and
// its next post is refused; an administrator resets a clinician's second factor and the clinician
// must enrol a new authenticator at their next sign-in; a clinician sets a patient's glucose
// target and the chart redraws against it. Each new page state passes axe-core (at 1280 and
// 390 px), is kept as a screenshot, and no request leaves the console's origin.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TEST_PASSWORD } from '../support/identity.ts'
import { foreignRequests } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: unpairing, second-factor reset, target ranges', () => {
  let w: ConsoleWorld
  before(async () => {
    w = await buildConsoleWorld({ days: 1, signIn: ['patient', 'admin', 'clinician', 'mobile'] })
  })
  after(async () => w?.close())

  test('[SRS-UI-544] a patient unpairs their device after confirming; the device disappears from the page and its next post is refused', async () => {
    const devices = w.s.app.vigil.modules.devices
    const serial = `E2E-${w.tag}`
    const reg = await devices.register({
      manufacturer: 'Acme Medical',
      model: 'GlucoOne',
      serial,
      type: 'glucometer',
      organisationId: w.orgId,
    })
    await devices.bind(reg.device.id, w.patientId, 'test')
    const token = await fetch(`${w.s.issuer}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${reg.device.clientId}:${reg.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'device-data:write',
        resource: `${w.s.issuer}/api`,
      }),
    })
    assert.equal(token.status, 200, await token.clone().text())
    const accessToken = ((await token.json()) as { access_token: string }).access_token
    const post = () =>
      fetch(`${w.s.issuer}/api/v2/device-data`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          readings: [
            {
              id: `e2e-${Date.now()}-${Math.random()}`,
              code: '2339-0',
              value: 101,
              unit: 'mg/dL',
              effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
            },
          ],
        }),
      })
    assert.equal((await post()).status, 200, 'paired: the device writes')

    const c = await w.open(w.users.patient)
    const { page } = c
    await page.getByRole('link', { name: 'My devices' }).first().click()
    await page.getByRole('button', { name: `Unpair ${serial}` }).click()
    const confirm = page.getByRole('group', { name: `Confirm unpairing ${serial}` })
    await confirm.waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'patient-devices-confirm-unpair')
    await confirm.getByRole('button', { name: 'Cancel' }).click()
    assert.equal((await post()).status, 200, 'cancelled: still paired')
    await page.getByRole('button', { name: `Unpair ${serial}` }).click()
    await page.getByRole('button', { name: 'Yes, unpair' }).click()
    await page.getByText('Device unpaired').waitFor({ timeout: 30_000 })
    await page.getByText('No device is paired with your record.').waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'patient-devices-unpaired')
    const refused = await post()
    assert.ok(
      refused.status >= 400 && refused.status < 500,
      `the device's next post is refused (got ${refused.status})`,
    )
    assert.equal(
      (
        await w.s.db.query("SELECT 1 FROM outbox WHERE topic = 'device.unbound' AND patient_id = $1", [
          w.patientId,
        ])
      ).rows.length,
      1,
    )
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test("[SRS-UI-545] an administrator resets a clinician's second factor after confirming; the clinician's next sign-in asks them to enrol a new authenticator", async () => {
    const c = await w.open(w.users.admin)
    const { page } = c
    await page.getByRole('link', { name: 'Users', exact: true }).first().click()
    await page.getByLabel('Organisation').selectOption(w.orgId)
    const email = w.users.mobile.email
    await page.getByRole('button', { name: `Reset second factor of ${email}` }).click()
    await page
      .getByRole('group', { name: `Confirm second-factor reset of ${email}` })
      .waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'admin-users-confirm-reset')
    await page.getByRole('button', { name: 'Yes, reset' }).click()
    await page.getByText(`Second factor of ${email} reset`).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'admin-users-reset-done')
    assert.equal(
      (await w.s.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1', [w.users.mobile.id])).rows
        .length,
      0,
    )
    const audit = await w.s.db.query<{ actor_id: string }>(
      "SELECT actor_id FROM audit_entries WHERE action = 'second_factor.reset' AND resource_id = $1",
      [w.users.mobile.id],
    )
    assert.deepEqual(audit.rows, [{ actor_id: w.users.admin.id }])
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])

    // The clinician signs in with their password: no code is asked for, an enrolment is.
    const context = await w.browser.newContext({ viewport: { width: 1280, height: 900 } })
    try {
      const p = await context.newPage()
      await p.goto(`${w.s.issuer}/console/`)
      await p.getByLabel('Email').fill(email)
      await p.getByLabel('Password').fill(TEST_PASSWORD)
      await p.getByRole('button', { name: 'Sign in' }).click()
      await p.getByText('Your role requires a second factor').waitFor({ timeout: 30_000 })
      await p.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor()
      assert.equal(await p.getByRole('button', { name: 'Confirm' }).count(), 1)
    } finally {
      await context.close()
    }
  })

  test("[SRS-UI-546] a clinician of the care team sets the patient's glucose target; the chart draws it and marks against it; at 390 px the control has no horizontal scroll and passes axe-core", async () => {
    const c = await w.open(w.users.clinician, { path: `/console/patients/${w.patientId}` })
    const { page } = c
    const chart = page.getByRole('img', { name: /^Glucose: \d+ points/ })
    await chart.waitFor({ timeout: 30_000 })
    assert.match((await chart.getAttribute('aria-label')) ?? '', /target 70–180 mg\/dL/)
    const targets = page.getByRole('list', { name: 'Target ranges' })
    await targets.getByText('Default').first().waitFor({ timeout: 30_000 })
    await page.getByLabel('Measurement').selectOption('2339-0')
    await page.getByLabel('Low (mg/dL)').fill('200')
    await page.getByLabel('High (mg/dL)').fill('150')
    await page.getByRole('button', { name: 'Save target range' }).click()
    const refusal = page.locator('form p.error[role="alert"]')
    await refusal.waitFor({ timeout: 30_000 })
    assert.match(
      (await refusal.textContent()) ?? '',
      /high must be above low/,
      'the refusal says what to fix',
    )
    await w.checkPage(c, 'clinician-target-refused')
    await page.getByLabel('Low (mg/dL)').fill('100')
    await page.getByLabel('High (mg/dL)').fill('140')
    await page.getByRole('button', { name: 'Save target range' }).click()
    await page.getByText('Target range of Glucose saved').waitFor({ timeout: 30_000 })
    await page
      .getByRole('img', { name: /^Glucose: \d+ points, target 100–140 mg\/dL, \d+ out of target/ })
      .waitFor({ timeout: 30_000 })
    await targets.getByText('Set by the care team').waitFor()
    await w.checkPage(c, 'clinician-target-set')

    // The patient sees the same target on their own record, read-only.
    const p = await w.open(w.users.patient, { width: 390 })
    await p.page.getByRole('link', { name: 'My readings' }).first().click()
    await p.page
      .getByRole('img', { name: /^Glucose: \d+ points, target 100–140 mg\/dL/ })
      .waitFor({ timeout: 30_000 })
    assert.equal(
      await p.page.getByRole('button', { name: 'Save target range' }).count(),
      0,
      'the patient does not set targets',
    )
    assert.equal(
      await p.page.evaluate('document.documentElement.scrollWidth > window.innerWidth'),
      false,
      'no horizontal scrolling at 390 px',
    )
    await w.checkPage(p, 'patient-targets-390')

    // Back to the default.
    await page.getByRole('button', { name: 'Use the default' }).click()
    await page
      .getByRole('img', { name: /^Glucose: \d+ points, target 70–180 mg\/dL/ })
      .waitFor({ timeout: 30_000 })
    for (const s of [c, p]) assert.deepEqual(foreignRequests(s.requests, w.s.issuer), [])
  })
})
