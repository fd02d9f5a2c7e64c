// The world the console's browser tests stand on: a clinic with a user of each role (staff with
// TOTP), a patient with 14 days of readings in a clinician's care team and a consent to another,
// a second patient with one reading; and helpers to open the console as one of them, check a page
// with axe-core and keep its screenshot. Built through the real services and the database.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { launchChromium } from './browser.ts'
import { TEST_KEYRING } from './config.ts'
import { openConsole, screenshot, seriousViolations, type ConsoleSession } from './console.ts'
import { createTestUser } from './identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from './oauth.ts'

export type ConsoleUser = Awaited<ReturnType<typeof createTestUser>>
export type ConsoleRole =
  'clinician' | 'mobile' | 'consented' | 'outsider' | 'patient' | 'other' | 'admin' | 'auditor'

export interface ConsoleWorld {
  readonly s: OAuthTestServer
  readonly browser: Browser
  readonly tag: string
  readonly orgId: string
  readonly users: Record<ConsoleRole, ConsoleUser>
  readonly patientId: string
  readonly otherPatientId: string
  readonly consentId: string
  open(
    user: ConsoleUser,
    options?: { width?: number; path?: string; timezoneId?: string },
  ): Promise<ConsoleSession>
  checkPage(c: ConsoleSession, name: string): Promise<void>
  close(): Promise<void>
}

/**
 * `days`: how many days of the patient's readings (default 14; 0 for pages that show none).
 * `signIn`: the users who will sign in (default all) get a password and TOTP; the others are plain
 * accounts, which spares the password hashing a browser test has no time for.
 */
export async function buildConsoleWorld(
  options: { days?: number; signIn?: readonly ConsoleRole[] } = {},
): Promise<ConsoleWorld> {
  const s = await startOAuthTestServer()
  const tag = randomUUID().slice(0, 8)
  const directory = createAccountDirectory({ db: s.db, keyring: createKeyring(TEST_KEYRING) })
  const orgId = (await directory.users.createOrganisation(`Console Clinic ${tag}`)).id
  const mk = async (
    name: ConsoleRole,
    role: string,
    totp: boolean,
    organisationId: string | null = orgId,
  ): Promise<ConsoleUser> => {
    const email = `${name}.${tag}@console.test`
    if (!options.signIn || options.signIn.includes(name))
      return createTestUser(s.db, { email, roles: [{ role: role as 'clinician', organisationId }], totp })
    const id = randomUUID()
    await s.db.query(
      "INSERT INTO users (id, email, email_normalized, status, email_verified_at) VALUES ($1, $2, $2, 'active', now())",
      [id, email],
    )
    await s.db.query('INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, $2, $3)', [
      id,
      role,
      organisationId,
    ])
    return { id, email, totpSecret: undefined }
  }
  const users: Record<ConsoleRole, ConsoleUser> = {
    clinician: await mk('clinician', 'clinician', true),
    mobile: await mk('mobile', 'clinician', true),
    consented: await mk('consented', 'clinician', true),
    outsider: await mk('outsider', 'clinician', true),
    patient: await mk('patient', 'patient', false),
    other: await mk('other', 'patient', false),
    admin: await mk('admin', 'admin', true, null),
    auditor: await mk('auditor', 'auditor', true, null),
  }
  const { patients, cipher } = s.app.vigil.modules
  const patientId = (
    await patients.create({
      userId: users.patient.id,
      organisationId: orgId,
      demographics: {
        name: { given: ['Grace'], family: `Hopper${tag}` },
        birthDate: '1970-12-09',
        gender: 'female',
        identifiers: [{ system: 'urn:vigil:mrn', value: `MRN-${tag}` }],
      },
    })
  ).id
  const otherPatientId = (
    await patients.create({
      userId: users.other.id,
      organisationId: orgId,
      demographics: {
        name: { given: ['Alan'], family: `Turing${tag}` },
        birthDate: '1962-06-23',
        gender: 'male',
      },
    })
  ).id
  for (const u of [users.clinician, users.mobile])
    await s.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, u.id, orgId],
    )
  const consentId = randomUUID()
  await s.db.query(
    `INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, granted_by)
     VALUES ($1, $2, 'user', $3, $4, 'read', 'treatment', now() + interval '30 days', $5)`,
    [
      consentId,
      patientId,
      users.consented.id,
      ['device-data', 'demographics', 'reports', 'devices'],
      users.patient.id,
    ],
  )
  // Readings sealed one by one with the patient's key, inserted a hundred rows per statement.
  const rows: unknown[][] = []
  const add = async (
    patient: string,
    code: string,
    at: Date,
    content: {
      value?: number
      unit?: string
      components?: Array<{ code: string; value: number; unit: string }>
    },
  ) => {
    const id = randomUUID()
    rows.push([
      id,
      patient,
      code,
      at.toISOString(),
      `console-${id}`,
      await sealReading(cipher, patient, id, content),
    ])
  }
  // 14 days of glucose every 30 minutes (a few out of range), heart rate every 2 hours, and the last day's blood pressure.
  const now = Date.now()
  for (let i = 0; i < (options.days ?? 14) * 48; i++) {
    const at = new Date(now - i * 30 * 60_000 - 60_000)
    const value = i % 40 === 0 ? 250 : i % 53 === 0 ? 60 : 110 + Math.round(30 * Math.sin(i / 7))
    await add(patientId, '2339-0', at, { value, unit: 'mg/dL' })
    if (i % 4 === 0) await add(patientId, '8867-4', at, { value: 70 + (i % 20), unit: '/min' })
    if (i < 48 && i % 6 === 0)
      await add(patientId, '85354-9', at, {
        components: [
          { code: '8480-6', value: 118 + i, unit: 'mm[Hg]' },
          { code: '8462-4', value: 76, unit: 'mm[Hg]' },
        ],
      })
  }
  await add(otherPatientId, '2339-0', new Date(now - 3_600_000), { value: 99, unit: 'mg/dL' })
  for (let i = 0; i < rows.length; i += 100) {
    const batch = rows.slice(i, i + 100)
    await s.db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
       VALUES ${batch.map((_, n) => `($${n * 6 + 1}, $${n * 6 + 2}, NULL, $${n * 6 + 3}, 'vital-signs', $${n * 6 + 4}, 60, now(), $${n * 6 + 5}, $${n * 6 + 6}, $${n * 6 + 5}, 'v2')`).join(', ')}`,
      batch.flat(),
    )
  }
  const browser = await launchChromium()
  const sessions: ConsoleSession[] = []
  return {
    s,
    browser,
    tag,
    orgId,
    users,
    patientId,
    otherPatientId,
    consentId,
    async open(user, options = {}) {
      const c = await openConsole(browser, s.issuer, user, options)
      sessions.push(c)
      return c
    },
    async checkPage(c, name) {
      await screenshot(c.page, name)
      assert.deepEqual(await seriousViolations(c.page), [], `axe-core on ${name}`)
    },
    async close() {
      for (const c of sessions) await c.context.close().catch(() => undefined)
      await browser.close()
      await s.close()
    },
  }
}
