// Erasure by crypto-shredding (issue 7, ADR-0009): POST /api/v2/admin/patients/{id}/erase and
// `vigil patients erase`. Afterwards the policy decision point conceals the patient, their
// demographics and readings no longer open on any instance, the erasure is audited in its own
// transaction, and the audit trail still verifies.

import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, userToken, type World } from '../support/world.ts'
import { PatientErasedError } from '../../src/modules/patients/index.ts'
import { openReading as openReadingContent } from '../../src/modules/device-data/index.ts'
import type { Principal } from '../../src/security/authn/principal.ts'
import { cliDatabase, insertReading, patientCrypto, type CliDatabase } from './keys-support.ts'

describe('POST /api/v2/admin/patients/{id}/erase', () => {
  let t: TestApp
  let world: World
  let readingId: string
  before(async () => {
    t = await createTestApp()
    world = await buildWorld(t.app)
    readingId = await insertReading(t.db, t.app.vigil.modules.cipher, world.patients.canary, 97.5)
  })
  after(() => t.close())

  const erase = async (user: keyof World['users'], patientId: string, body: unknown = { confirm: true }) =>
    t.app.inject({
      method: 'POST',
      url: `/api/v2/admin/patients/${patientId}/erase`,
      headers: {
        authorization: `Bearer ${await userToken(t.app, t.config.publicUrl, world, world.users[user])}`,
      },
      payload: body as object,
    })

  test('[SRS-AUDIT-022] only an administrator may erase: a clinician is refused, an org-admin of another organisation is refused, and nothing is destroyed', async () => {
    const clinician = await erase('clinicianTeam', world.patients.canary)
    assert.equal(clinician.statusCode, 403)
    const otherOrg = await erase('orgAdminB', world.patients.canary)
    assert.ok([403, 404].includes(otherOrg.statusCode), String(otherOrg.statusCode))
    const unconfirmed = await erase('admin', world.patients.canary, {})
    assert.equal(unconfirmed.statusCode, 400)
    const p = await t.app.vigil.modules.patients.get(world.patients.canary)
    assert.equal(p?.erasedAt, null)
    assert.equal(p?.demographics?.name?.family, world.canaryValues[0])
  })

  test('[SRS-AUDIT-023] an admin erases a patient: their data keys are destroyed, PHI no longer opens, the PDP conceals them (404), the erasure is audited and the trail verifies', async () => {
    const { modules } = t.app.vigil
    const { rows: before } = await t.db.query<{ value_sealed: string }>(
      'SELECT value_sealed FROM readings WHERE id = $1',
      [readingId],
    )
    const sealedReading = (before[0] as { value_sealed: string }).value_sealed
    assert.equal(
      (await openReadingContent(modules.cipher, world.patients.canary, readingId, sealedReading)).value,
      97.5,
    )

    const res = await erase('admin', world.patients.canary)
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { patientId: string; erasedAt: string }
    assert.equal(body.patientId, world.patients.canary)
    assert.ok(!Number.isNaN(Date.parse(body.erasedAt)))
    assert.equal(
      (await erase('admin', world.patients.canary)).statusCode,
      404,
      'an erased patient is concealed, also from a second erasure',
    )

    const { rows: keys } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM patient_data_keys WHERE patient_id = $1 AND wrapped_key IS NOT NULL',
      [world.patients.canary],
    )
    assert.equal(Number(keys[0]?.n), 0)
    const p = await modules.patients.get(world.patients.canary)
    assert.equal(p?.demographics, null)
    assert.ok(p?.erasedAt instanceof Date)
    await assert.rejects(
      openReadingContent(modules.cipher, world.patients.canary, readingId, sealedReading),
      PatientErasedError,
    )
    // Another instance (no cache) cannot open it either.
    await assert.rejects(
      openReadingContent(patientCrypto(t.db).cipher, world.patients.canary, readingId, sealedReading),
      PatientErasedError,
    )
    assert.deepEqual(
      await modules.patients.findByIdentifier({
        system: 'urn:vigil:mrn',
        value: world.canaryValues[2] as string,
      }),
      [],
    )

    // The patient themself and the whole care circle are concealed from now on, for every patient-data action.
    const patientUser: Principal = {
      kind: 'user',
      id: world.users.canary.id,
      clientId: world.consoleClientId,
      scopes: ['patients:read', 'device-data:read'],
      roles: ['patient'],
      patientId: world.patients.canary,
    }
    for (const action of ['patients.read', 'device-data.read']) {
      const d = await modules.pdp.decide(
        patientUser,
        action,
        { type: 'Patient', id: world.patients.canary, patientId: world.patients.canary },
        { requestId: 'erasure-test', ip: '127.0.0.1', now: new Date() },
      )
      assert.equal(d.effect, 'deny')
      assert.equal(d.conceal, true)
    }

    const { rows: audit } = await t.db.query<{
      actor_id: string
      patient_id: string
      resource_id: string
      outcome: string
    }>(
      "SELECT actor_id, patient_id, resource_id, outcome FROM audit_entries WHERE action = 'patient.erase' AND patient_id = $1",
      [world.patients.canary],
    )
    assert.deepEqual(audit, [
      {
        actor_id: world.users.admin.id,
        patient_id: world.patients.canary,
        resource_id: world.patients.canary,
        outcome: 'success',
      },
    ])
    const verified = await modules.audit.verify()
    assert.equal(verified.ok, true, JSON.stringify(verified))
  })
})

describe('vigil patients erase', () => {
  let cdb: CliDatabase
  let patientId: string
  before(async () => {
    cdb = await cliDatabase('erase-cli')
    const db = await cdb.open()
    try {
      const { patients, cipher } = patientCrypto(db)
      patientId = (
        await patients.create({ demographics: { name: { family: 'Cliforget' }, birthDate: '1950-05-05' } })
      ).id
      await insertReading(db, cipher, patientId, 55)
    } finally {
      await db.close()
    }
  })
  after(() => cdb.drop())

  test('[SRS-AUDIT-024] `vigil patients erase <id>` needs --yes, then destroys the keys, audits patient.erase, and `vigil audit verify` passes', async () => {
    const refused = await cdb.cli(['patients', 'erase', patientId])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /--yes/)
    const out = await cdb.cli(['patients', 'erase', patientId, '--yes'])
    assert.equal(out.code, 0, out.stderr)
    assert.equal((JSON.parse(out.stdout) as { status: string }).status, 'erased')
    const verify = await cdb.cli(['audit', 'verify'])
    assert.equal(verify.code, 0, verify.stderr)
    const db = await cdb.open()
    try {
      const { rows } = await db.query<{ actor_kind: string }>(
        "SELECT actor_kind FROM audit_entries WHERE action = 'patient.erase' AND patient_id = $1",
        [patientId],
      )
      assert.deepEqual(rows, [{ actor_kind: 'system' }])
      const p = await patientCrypto(db).patients.get(patientId)
      assert.equal(p?.demographics, null)
      assert.ok(p?.erasedAt)
    } finally {
      await db.close()
    }
  })
})
