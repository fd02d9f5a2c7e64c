// The web console end to end in Chromium (issue 15): every role signs in through the real sign-in
// pages (password, then TOTP for staff), does its main task, and each page is checked by axe-core,
// photographed into test-results/console, and watched for any request leaving the origin.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { launchChromium } from '../support/browser.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { foreignRequests, openConsole, screenshot, seriousViolations, type ConsoleSession } from '../support/console.ts'
import { createTestUser } from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

type User = Awaited<ReturnType<typeof createTestUser>>

describe('web console in Chromium', () => {
  let s: OAuthTestServer
  let browser: Browser
  const tag = randomUUID().slice(0, 8)
  let orgId: string
  const users = {} as Record<'clinician' | 'consented' | 'outsider' | 'patient' | 'other' | 'admin' | 'auditor', User>
  let patientId: string
  let otherPatientId: string
  let consentId: string
  const sessions: ConsoleSession[] = []

  async function insertReading(patient: string, code: string, at: Date, content: { value?: number; unit?: string; components?: Array<{ code: string; value: number; unit: string }> }, deviceId: string | null) {
    const id = randomUUID()
    const sealed = await sealReading(s.app.vigil.modules.cipher, patient, id, content)
    await s.db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
       VALUES ($1, $2, $3, $4, 'vital-signs', $5, 60, now(), $6, $7, $6, 'v2')`,
      [id, patient, deviceId, code, at.toISOString(), `console-${id}`, sealed],
    )
    return id
  }

  before(async () => {
    s = await startOAuthTestServer()
    const directory = createAccountDirectory({ db: s.db, keyring: createKeyring(TEST_KEYRING) })
    orgId = (await directory.users.createOrganisation(`Console Clinic ${tag}`)).id
    const mk = (name: string, role: string, totp: boolean, organisationId: string | null = orgId) =>
      createTestUser(s.db, { email: `${name}.${tag}@console.test`, roles: [{ role: role as 'clinician', organisationId }], totp })
    users.clinician = await mk('clinician', 'clinician', true)
    users.consented = await mk('consented', 'clinician', true)
    users.outsider = await mk('outsider', 'clinician', true)
    users.patient = await mk('patient', 'patient', false)
    users.other = await mk('other', 'patient', false)
    users.admin = await mk('admin', 'admin', true, null)
    users.auditor = await mk('auditor', 'auditor', true, null)
    const { patients } = s.app.vigil.modules
    patientId = (await patients.create({ userId: users.patient.id, organisationId: orgId, demographics: { name: { given: ['Grace'], family: `Hopper${tag}` }, birthDate: '1970-12-09', gender: 'female', identifiers: [{ system: 'urn:vigil:mrn', value: `MRN-${tag}` }] } })).id
    otherPatientId = (await patients.create({ userId: users.other.id, organisationId: orgId, demographics: { name: { given: ['Alan'], family: `Turing${tag}` }, birthDate: '1962-06-23', gender: 'male' } })).id
    await s.db.query('INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)', [patientId, users.clinician.id, orgId])
    consentId = randomUUID()
    await s.db.query(
      `INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, granted_by)
       VALUES ($1, $2, 'user', $3, $4, 'read', 'treatment', now() + interval '30 days', $5)`,
      [consentId, patientId, users.consented.id, ['device-data', 'demographics', 'reports', 'devices'], users.patient.id],
    )
    // 14 days of glucose every 30 minutes (a few out of range), heart rate every 2 hours, and the last day's blood pressure.
    const now = Date.now()
    for (let i = 0; i < 14 * 48; i++) {
      const at = new Date(now - i * 30 * 60_000 - 60_000)
      const value = i % 40 === 0 ? 250 : i % 53 === 0 ? 60 : 110 + Math.round(30 * Math.sin(i / 7))
      await insertReading(patientId, '2339-0', at, { value, unit: 'mg/dL' }, null)
      if (i % 4 === 0) await insertReading(patientId, '8867-4', at, { value: 70 + (i % 20), unit: '/min' }, null)
      if (i < 48 && i % 6 === 0) await insertReading(patientId, '85354-9', at, { components: [{ code: '8480-6', value: 118 + i, unit: 'mm[Hg]' }, { code: '8462-4', value: 76, unit: 'mm[Hg]' }] }, null)
    }
    await insertReading(otherPatientId, '2339-0', new Date(now - 3_600_000), { value: 99, unit: 'mg/dL' }, null)
    browser = await launchChromium()
  })

  after(async () => {
    for (const c of sessions) await c.context.close().catch(() => undefined)
    await browser?.close()
    await s?.close()
  })

  async function open(user: User, options: { width?: number; path?: string } = {}) {
    const c = await openConsole(browser, s.issuer, user, options)
    sessions.push(c)
    return c
  }

  async function checkPage(c: ConsoleSession, name: string) {
    await screenshot(c.page, name)
    const violations = await seriousViolations(c.page)
    assert.deepEqual(violations, [], `axe-core on ${name}`)
  }

  test('[SRS-UI-400][SRS-UI-401] a clinician signs in with TOTP, opens the care-team patient and sees a chart of the readings; no request leaves the origin', async () => {
    const c = await open(users.clinician)
    const { page } = c
    await page.getByRole('link', { name: 'Patients' }).first().click()
    await page.getByRole('link', { name: `Grace Hopper${tag}` }).click()
    await page.getByRole('heading', { name: `Grace Hopper${tag}` }).waitFor()
    await page.getByRole('heading', { name: /^Glucose/ }).waitFor({ timeout: 30_000 })
    const label = await page.getByRole('img', { name: /^Glucose: \d+ points/ }).getAttribute('aria-label')
    assert.match(label ?? '', /^Glucose: 4[89] points, target 70–180 mg\/dL, \d+ out of target/)
    assert.equal(await page.locator('.chart-canvas canvas').count() >= 3, true, 'glucose, heart rate and blood pressure charts')
    await page.getByRole('heading', { name: 'Ambulatory glucose profile' }).waitFor()
    await page.getByText('Time in range (70–180 mg/dL)').waitFor()
    await checkPage(c, 'clinician-patient-day')
    await page.getByLabel('90 days').check()
    await page.getByRole('img', { name: /^Glucose: 1[45] points/ }).waitFor({ timeout: 30_000 })
    await checkPage(c, 'clinician-patient-90-days')
    assert.deepEqual(foreignRequests(c.requests, s.issuer), [])
    assert.deepEqual(c.messages.filter((m) => /Content Security Policy|Refused/.test(m)), [])
  })
})
