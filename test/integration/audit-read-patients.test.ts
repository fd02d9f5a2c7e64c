// Reads on the audit trail (issue 15): every entry of a read, search or list names every patient
// whose data the answer carried — one entry per patient, each with the grounds the policy gives for
// that patient — and the entry of a read is written before its body leaves: when it cannot be
// written, the caller gets 503 and none of the data.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createAuditTrail } from '../../src/audit/index.ts'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { openDatabase } from '../../src/platform/db/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { auditEntriesOf } from '../support/audit.ts'
import { buildWorld, userToken, worldApiRequest, type World } from '../support/world.ts'

const PUBLIC_URL = 'http://127.0.0.1:8080'

describe('audit entries of reads name every patient carried', () => {
  let t: TestApp
  let world: World

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } })
    world = await buildWorld(t.app)
    // clinicianConsent reaches the world's patient by consent; put them in otherPatient's care team
    // too, so one list carries two patients on two different grounds.
    await t.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [world.patients.otherPatient, world.users.clinicianConsent.id, world.orgA],
    )
  })
  after(async () => t?.close())

  test('[SRS-AUDIT-400] a patient list carrying two patients leaves one entry per patient, each with its own grounds', async () => {
    const res = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianConsent,
      'GET',
      '/patients',
    )
    assert.equal(res.status, 200)
    assert.deepEqual(
      res.body.patients.map((p: { id: string }) => p.id).sort(),
      [world.patients.patient, world.patients.otherPatient].sort(),
    )
    const rows = await auditEntriesOf(t.db, res.requestId, 2)
    assert.equal(rows.length, 2)
    const byPatient = new Map(rows.map((r) => [r.patient_id, r]))
    assert.equal(byPatient.get(world.patients.patient)?.decision_rule, 'consent.user')
    assert.equal(byPatient.get(world.patients.patient)?.consent_id, world.consents.live)
    assert.equal(byPatient.get(world.patients.otherPatient)?.decision_rule, 'clinician.care-team')
    assert.equal(byPatient.get(world.patients.otherPatient)?.consent_id, null)
    for (const r of rows) assert.equal(r.action, 'patients.read')
  })

  test('[SRS-AUDIT-400] a FHIR Patient search and a device-data query across patients name each patient in the answer', async () => {
    const fhirToken = await userToken(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianConsent,
      'openid user/*.rs',
      { resource: 'fhir' },
    )
    const search = await t.app.inject({
      method: 'GET',
      url: '/fhir/R4/Patient',
      headers: { authorization: `Bearer ${fhirToken}`, 'x-request-id': 'audit-read-fhir-search-1' },
    })
    assert.equal(search.statusCode, 200)
    assert.equal((search.json() as { total?: number; entry?: unknown[] }).entry?.length, 2)
    const rows = await auditEntriesOf(t.db, 'audit-read-fhir-search-1', 2)
    assert.deepEqual(
      rows.map((r) => r.patient_id).sort(),
      [world.patients.patient, world.patients.otherPatient].sort(),
    )

    // The world's otherPatient has no reading; give them one so the query carries both.
    const id = randomUUID()
    await t.db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
       VALUES ($1, $2, NULL, '2339-0', 'laboratory', now() - interval '2 hours', 0, now(), $3, $4, $3, 'v2')`,
      [
        id,
        world.patients.otherPatient,
        `audit-read-${id}`,
        await sealReading(t.app.vigil.modules.cipher, world.patients.otherPatient, id, {
          value: 101,
          unit: 'mg/dL',
        }),
      ],
    )
    const q = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianConsent,
      'GET',
      '/device-data',
    )
    assert.equal(q.status, 200)
    const carried = new Set(q.body.readings.map((r: { patientId: string }) => r.patientId))
    assert.equal(carried.size, 2)
    const entries = await auditEntriesOf(t.db, q.requestId, 2)
    assert.deepEqual(entries.map((r) => r.patient_id).sort(), [...carried].sort())
  })

  test("[SRS-AUDIT-400] a list carrying one patient names the grounds for that patient, not the list's coarse check", async () => {
    const res = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianBreakGlass,
      'GET',
      '/patients',
    )
    assert.equal(res.status, 200)
    assert.deepEqual(
      res.body.patients.map((p: { id: string }) => p.id),
      [world.patients.patient],
    )
    const rows = await auditEntriesOf(t.db, res.requestId)
    assert.equal(rows.length, 1)
    assert.equal(rows[0]?.patient_id, world.patients.patient)
    assert.equal(rows[0]?.decision_rule, 'clinician.break-glass')
    assert.equal(rows[0]?.break_glass, true)
  })

  test('[SRS-AUDIT-400] an empty list leaves one entry naming no patient', async () => {
    const res = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianOutside,
      'GET',
      '/patients',
    )
    assert.equal(res.status, 200)
    assert.deepEqual(res.body.patients, [])
    const rows = await auditEntriesOf(t.db, res.requestId)
    assert.equal(rows.length, 1)
    assert.equal(rows[0]?.patient_id, null)
  })
})

describe('the entry of a read is written before the data leave', () => {
  test('[SRS-AUDIT-401] when the audit trail cannot be written, a read answers 503 and carries none of the data', async () => {
    // A real audit trail over a database without its tables (never migrated): every append fails.
    const broken = await openDatabase({})
    const t = await createTestApp({ env: { PUBLIC_URL }, deps: { audit: createAuditTrail({ db: broken }) } })
    try {
      const world = await buildWorld(t.app)
      const res = await worldApiRequest(
        t.app,
        PUBLIC_URL,
        world,
        world.users.patient,
        'GET',
        `/patients/${world.patients.patient}`,
      )
      assert.equal(res.status, 503)
      assert.doesNotMatch(res.raw, new RegExp(`Patient${world.suffix}|MRN-${world.suffix}`))
      assert.match(res.raw, /could not be recorded/)
      const list = await worldApiRequest(
        t.app,
        PUBLIC_URL,
        world,
        world.users.clinicianTeam,
        'GET',
        '/device-data',
      )
      assert.equal(list.status, 503)
      assert.doesNotMatch(list.raw, /"readings"/)
    } finally {
      await t.close()
      await broken.close()
    }
  })
})
