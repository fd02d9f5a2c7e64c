// The web console in Chromium (issue 15): the tasks of items 1–3 the other browser tests do not
// walk — a clinician finds a patient by name and by identifier through the blind index, reads each
// reading's device and time zone and a DiagnosticReport; a patient pairs a device with its code and
// shares their data; an administrator invites a user and disables them. Each page state passes
// axe-core and is kept as a screenshot; nothing leaves the origin or reaches the browser's log.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { foreignRequests, type ConsoleSession } from '../support/console.ts'
import { buildConsoleWorld, type ConsoleWorld } from '../support/console-world.ts'

describe('web console in Chromium: the remaining tasks of each role', () => {
  let w: ConsoleWorld
  // One administrator session for both administrator tests: a second sign-in within the same
  // 30-second TOTP step would be refused as a replayed code.
  let adminSession: ConsoleSession | undefined
  const asAdmin = async () => (adminSession ??= await w.open(w.users.admin))
  before(async () => {
    w = await buildConsoleWorld({ days: 1, signIn: ['clinician', 'patient', 'admin'] })
  })
  after(async () => w?.close())

  test("[SRS-UI-547] a clinician finds the patient by name and by identifier, sees each reading's device and time zone with its time in the viewer's zone, and opens a DiagnosticReport; the browser log holds nothing sensitive", async () => {
    const reportId = randomUUID()
    const conclusion = `Stable glucose ${w.tag}`
    await w.s.db.query(
      `INSERT INTO diagnostic_reports (id, patient_id, code, code_display, status, effective_at, issued_at, result_reading_ids, conclusion_sealed, performer_user_id)
       VALUES ($1, $2, '11502-2', 'Laboratory report', 'final', now() - interval '1 hour', now(), ARRAY[]::uuid[], $3, $4)`,
      [
        reportId,
        w.patientId,
        await w.s.app.vigil.modules.cipher.seal(w.patientId, conclusion, `diagnostic-report:${reportId}`),
        w.users.clinician.id,
      ],
    )
    // The viewer is in India (UTC+05:30, no DST): times are shown in their zone, not in UTC.
    const c = await w.open(w.users.clinician, { timezoneId: 'Asia/Kolkata' })
    const { page } = c
    await page.getByRole('link', { name: 'Patients' }).first().click()
    await page.getByLabel('Name to search for').fill(`Hopper${w.tag}`)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    await page.getByLabel('Identifier', { exact: true }).check()
    await page.getByLabel('Identifier value').fill(`MRN-${w.tag}`)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: `Grace Hopper${w.tag}` }).waitFor({ timeout: 30_000 })
    await page.getByLabel('Identifier value').fill(`MRN-nobody-${w.tag}`)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText('No patient you may see matches this search.').waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'clinician-search-identifier')

    await page.goto(`${w.s.issuer}/console/patients/${w.patientId}`)
    await page.getByRole('img', { name: /^Glucose: \d+ points/ }).waitFor({ timeout: 30_000 })
    await page.getByText('Show the values as a table').first().click()
    const values = page.getByRole('region', { name: 'Glucose: values' })
    await values.waitFor()
    // The world's readings were entered without a device, at UTC+01:00 device time.
    const table = ((await values.textContent()) ?? '').replace(/\s/gu, ' ')
    assert.match(table, /entered by hand, device time zone UTC\+01:00/)
    // The latest reading, in the viewer's zone: later than any reading's UTC time, so it cannot come from UTC.
    const latest = (
      await w.s.db.query<{ at: Date }>(
        "SELECT max(effective_at) AS at FROM readings WHERE patient_id = $1 AND code = '2339-0'",
        [w.patientId],
      )
    ).rows[0]?.at as Date
    const local = new Intl.DateTimeFormat('en-US', {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'Asia/Kolkata',
    })
      .format(new Date(latest))
      .replace(/\s/gu, ' ')
    assert.ok(table.includes(local), `the latest reading shown as ${local} (viewer's time zone)`)
    await page.getByRole('button', { name: 'Laboratory report' }).click()
    await page.getByText(`Conclusion: ${conclusion}`).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'clinician-report-open')
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
    const log = c.messages.join('\n')
    for (const secret of [
      `Hopper${w.tag}`,
      `MRN-${w.tag}`,
      conclusion,
      'Bearer ',
      'access_token',
      'refresh_token',
    ])
      assert.equal(log.includes(secret), false, `the browser log holds ${secret}`)
    assert.doesNotMatch(page.url(), /code=|state=|token/, 'nothing sensitive in the address bar')
  })

  test('[SRS-UI-548] a patient pairs a device with the code that came with it and shares their readings with a clinician', async () => {
    const devices = w.s.app.vigil.modules.devices
    const serial = `PAIR-${w.tag}`
    const { pairingCode } = await devices.register({
      manufacturer: 'Acme Medical',
      model: 'GlucoOne',
      serial,
      type: 'glucometer',
      organisationId: w.orgId,
    })
    const c = await w.open(w.users.patient)
    const { page } = c
    await page.getByRole('link', { name: 'My devices' }).first().click()
    await page.getByLabel('Manufacturer').fill('Acme Medical')
    await page.getByLabel('Model').fill('GlucoOne')
    await page.getByLabel('Serial number').fill(serial)
    await page.getByLabel('Pairing code (XXXX-XXXX-XXXX)').fill('AAAA-BBBB-CCCC')
    await page.getByRole('button', { name: 'Pair device' }).click()
    const refusal = page.locator('form p.error[role="alert"]')
    await refusal.waitFor({ timeout: 30_000 })
    assert.doesNotMatch(
      (await refusal.textContent()) ?? '',
      /\b404\b/,
      'an error says what to do, not a status code',
    )
    await w.checkPage(c, 'patient-pair-refused')
    await page.getByLabel('Pairing code (XXXX-XXXX-XXXX)').fill(pairingCode.toLowerCase())
    await page.getByRole('button', { name: 'Pair device' }).click()
    await page.getByText('Device paired').waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: `Unpair ${serial}` }).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'patient-device-paired')

    await page.getByRole('link', { name: 'Sharing' }).first().click()
    await page.getByLabel('Their Vigil user id (they can read it in their account)').fill(w.users.outsider.id)
    await page.getByRole('button', { name: 'Grant access' }).click()
    await page.getByText('Access granted.').waitFor({ timeout: 30_000 })
    await page
      .getByRole('button', { name: `Revoke access of ${w.users.outsider.id}` })
      .waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'patient-consent-granted')
    const { rows } = await w.s.db.query<{ categories: string[] }>(
      'SELECT categories FROM consents WHERE patient_id = $1 AND grantee_id = $2 AND revoked_at IS NULL',
      [w.patientId, w.users.outsider.id],
    )
    assert.deepEqual(
      rows.map((r) => r.categories),
      [['device-data']],
    )
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })

  test('[SRS-UI-549] an administrator invites a user into the organisation and disables them', async () => {
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Users', exact: true }).first().click()
    await page.getByLabel('Organisation').selectOption(w.orgId)
    const email = `invited.${w.tag}@console.test`
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Role').selectOption('clinician')
    await page.getByRole('button', { name: 'Invite' }).click()
    await page.getByText(`Invitation sent to ${email}.`).waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: `Disable ${email}` }).click()
    await page.getByRole('button', { name: `Enable ${email}` }).waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'admin-user-invited-disabled')
    const { rows } = await w.s.db.query<{ status: string; role: string }>(
      'SELECT u.status, r.role FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.email = $1',
      [email],
    )
    assert.deepEqual(rows, [{ status: 'disabled', role: 'clinician' }])
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
  test('[SRS-UI-550] an administrator registers a device (its credentials shown once), binds it to the patient, unbinds it and retires it', async () => {
    const c = await asAdmin()
    const { page } = c
    await page.getByRole('link', { name: 'Devices', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Register a device' }).waitFor({ timeout: 30_000 })
    const serial = `REG-${w.tag}`
    await page.getByLabel('Manufacturer').fill('Acme Medical')
    await page.getByLabel('Model').fill('PulseOx 3')
    await page.getByLabel('Serial number').fill(serial)
    await page.getByLabel('Type').selectOption('pulse-oximeter')
    await page.getByRole('button', { name: 'Register' }).click()
    await page.getByText('Shown once — store them in the device now:').waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'admin-device-registered')
    await page.getByRole('button', { name: 'I have stored them' }).click()
    await page.getByLabel(`Patient id for ${serial}`).fill(w.patientId)
    await page.getByRole('button', { name: `Bind ${serial}`, exact: true }).click()
    await page.getByText('Device bound.').waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: `Unbind ${serial}` }).click()
    await page.getByText('Device unbound.').waitFor({ timeout: 30_000 })
    await page.getByRole('button', { name: `Retire ${serial}` }).click()
    await page.getByText('Device retired').waitFor({ timeout: 30_000 })
    await w.checkPage(c, 'admin-device-retired')
    const { rows } = await w.s.db.query<{ status: string; bindings: number; ended: number }>(
      'SELECT d.status, count(b.id)::int AS bindings, count(b.unbound_at)::int AS ended FROM devices d LEFT JOIN device_bindings b ON b.device_id = d.id WHERE d.serial = $1 GROUP BY d.status',
      [serial],
    )
    assert.deepEqual(rows, [{ status: 'disabled', bindings: 1, ended: 1 }])
    assert.deepEqual(foreignRequests(c.requests, w.s.issuer), [])
  })
})
