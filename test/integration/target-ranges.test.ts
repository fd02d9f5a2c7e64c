// A patient's own target ranges (issue 15; ADR-0027), through the real app: read by whoever reads
// the patient's readings, set and cleared by a clinician of the care team only, validated (low
// below high, bounds and unit of the measurement), sealed at rest, audited with the change; the
// summary's target and the glucose profile's time in range follow them, the default otherwise.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, userToken, worldApiRequest, type World, type WorldUser } from '../support/world.ts'

const PUBLIC_URL = 'http://127.0.0.1:8080'

describe('per-patient target ranges', () => {
  let t: TestApp
  let w: World
  let patientId: string
  const now = Date.now()
  const api = (user: WorldUser, method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    worldApiRequest(t.app, PUBLIC_URL, w, user, method, url, body)
  const range = () =>
    `from=${encodeURIComponent(new Date(now - 2 * 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(now + 60_000).toISOString())}`

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } })
    w = await buildWorld(t.app)
    // A patient of the care team with 10 glucose readings: 100, 120, 140, ... 280 mg/dL.
    patientId = (
      await t.app.vigil.modules.patients.create({
        organisationId: w.orgA,
        demographics: { name: { family: 'Targets' } },
      })
    ).id
    await t.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, w.users.clinicianTeam.id, w.orgA],
    )
    for (let i = 0; i < 10; i++) {
      const id = randomUUID()
      await t.db.query(
        `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
         VALUES ($1, $2, NULL, '2339-0', 'laboratory', $3, 0, now(), $4, $5, $4, 'v2')`,
        [
          id,
          patientId,
          new Date(now - (i + 1) * 3_600_000).toISOString(),
          `tr-${id}`,
          await sealReading(t.app.vigil.modules.cipher, patientId, id, {
            value: 100 + 20 * i,
            unit: 'mg/dL',
          }),
        ],
      )
    }
  })
  after(async () => t?.close())

  test('[SRS-API-542] unset, every adjustable measurement has the population default (glucose 70-180 mg/dL); the summary and the profile use it', async () => {
    const res = await api(w.users.clinicianTeam, 'GET', `/patients/${patientId}/target-ranges`)
    assert.equal(res.status, 200, res.raw)
    const byCode = new Map(res.body.targets.map((x: { code: string }) => [x.code, x]))
    assert.deepEqual(byCode.get('2339-0'), {
      code: '2339-0',
      label: 'Glucose',
      unit: 'mg/dL',
      low: 70,
      high: 180,
      source: 'default',
      setBy: null,
      updatedAt: null,
    })
    for (const code of ['8480-6', '8462-4', '8867-4'])
      assert.equal((byCode.get(code) as { source: string }).source, 'default', code)
    const summary = await api(
      w.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${patientId}&${range()}&bucket=day&code=2339-0`,
    )
    assert.deepEqual(summary.body.series[0].target, { low: 70, high: 180, source: 'default' })
    const profile = await api(
      w.users.clinicianTeam,
      'GET',
      `/device-data/glucose-profile?patient=${patientId}&${range()}`,
    )
    assert.equal(profile.status, 200, profile.raw)
    assert.deepEqual(
      [profile.body.targetSource, profile.body.thresholds],
      ['default', { veryLow: 54, low: 70, high: 180, veryHigh: 250 }],
    )
    // 100..180 in range (5), 200..240 high (3), 260..280 very high (2).
    assert.deepEqual(profile.body.timeInRanges, {
      veryLow: 0,
      low: 0,
      inRange: 0.5,
      high: 0.3,
      veryHigh: 0.2,
    })
  })

  test('[SRS-API-542] only a clinician of the care team sets a target; bad ranges are refused with what to fix, and nothing is written', async () => {
    const ok = { low: 110, high: 160, unit: 'mg/dL' }
    assert.equal(
      (await api(w.users.patient, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, ok)).status,
      403,
      'not the patient (another patient here)',
    )
    assert.equal(
      (await api(w.users.clinicianOutside, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, ok)).status,
      404,
      'outside the care team: concealed',
    )
    assert.equal(
      (await api(w.users.admin, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, ok)).status,
      403,
    )
    for (const [body, pointer] of [
      [{ low: 160, high: 110, unit: 'mg/dL' }, '/body/high'],
      [{ low: 120, high: 120, unit: 'mg/dL' }, '/body/high'],
      [{ low: 10, high: 160, unit: 'mg/dL' }, '/body/low'],
      [{ low: 110, high: 900, unit: 'mg/dL' }, '/body/high'],
      [{ low: 6, high: 9, unit: 'mmol/L' }, '/body/unit'],
    ] as const) {
      const res = await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, body)
      assert.equal(res.status, 400, res.raw)
      assert.ok(
        JSON.stringify(res.body).includes(pointer),
        `${JSON.stringify(body)} → ${pointer}: ${res.raw}`,
      )
    }
    assert.equal(
      (await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/1234-5`, ok)).status,
      400,
      'not an adjustable measurement',
    )
    assert.equal(
      (
        await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, {
          ...ok,
          extra: 1,
        })
      ).status,
      400,
    )
    assert.equal(
      (
        await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, {
          low: '110',
          high: 160,
          unit: 'mg/dL',
        })
      ).status,
      400,
    )
    assert.equal(
      (await t.db.query('SELECT 1 FROM patient_target_ranges WHERE patient_id = $1', [patientId])).rows
        .length,
      0,
      'nothing written',
    )
  })

  test("[SRS-API-542] the token must carry target-ranges:write (or patients:write): a care-team clinician's token with device-data:write alone is refused with insufficient_scope, and nothing is written", async () => {
    const put = async (scope: string) => {
      const token = await userToken(t.app, PUBLIC_URL, w, w.users.clinicianTeam, scope)
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/v2/patients/${patientId}/target-ranges/8480-6`,
        headers: { authorization: `Bearer ${token}` },
        payload: { low: 95, high: 135, unit: 'mm[Hg]' },
      })
      return res
    }
    const refused = await put('device-data:read device-data:write')
    assert.equal(refused.statusCode, 403, refused.body)
    assert.equal(refused.json().code, 'INSUFFICIENT_SCOPE')
    assert.match(String(refused.headers['www-authenticate']), /insufficient_scope/)
    assert.match(String(refused.headers['www-authenticate']), /target-ranges:write/)
    const unchanged = await api(w.users.clinicianTeam, 'GET', `/patients/${patientId}/target-ranges`)
    const systolic = (unchanged.body.targets as Array<{ code: string; source: string }>).find(
      (x) => x.code === '8480-6',
    )
    assert.equal(systolic?.source, 'default', 'nothing was written')
    const accepted = await put('device-data:read target-ranges:write')
    assert.equal(accepted.statusCode, 200, accepted.body)
    const cleared = await api(w.users.clinicianTeam, 'DELETE', `/patients/${patientId}/target-ranges/8480-6`)
    assert.ok(cleared.status < 300, cleared.raw)
  })

  test("[SRS-DATA-543] a target set by the care team is sealed at rest, audited with the change, and moves the summary's target and the profile's time in range; clearing it brings the default back", async () => {
    const set = await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, {
      low: 110,
      high: 160,
      unit: 'mg/dL',
    })
    assert.equal(set.status, 200, set.raw)
    assert.deepEqual(
      { ...set.body, updatedAt: undefined },
      {
        code: '2339-0',
        label: 'Glucose',
        unit: 'mg/dL',
        low: 110,
        high: 160,
        source: 'patient',
        setBy: `user:${w.users.clinicianTeam.id}`,
        updatedAt: undefined,
      },
    )
    const { rows } = await t.db.query<{ range_sealed: string }>(
      'SELECT range_sealed FROM patient_target_ranges WHERE patient_id = $1',
      [patientId],
    )
    assert.equal(rows.length, 1)
    const sealed = rows[0]?.range_sealed ?? ''
    assert.match(sealed, /^e1\.\d+\./, "sealed with the patient's data key")
    assert.ok(!sealed.includes('"low"') && !sealed.includes('mg/dL'), 'not in clear')
    const id = (
      (
        await t.db.query<{ id: string }>('SELECT id FROM patient_target_ranges WHERE patient_id = $1', [
          patientId,
        ])
      ).rows[0] as { id: string }
    ).id
    assert.deepEqual(
      JSON.parse(await t.app.vigil.modules.cipher.open(patientId, sealed, `target-range:${id}`)),
      { low: 110, high: 160, unit: 'mg/dL' },
    )
    const entries = await t.db.query<{ patient_id: string; outcome: string; decision_rule: string }>(
      "SELECT patient_id, outcome, decision_rule FROM audit_entries WHERE request_id = $1 AND action = 'target-ranges.write'",
      [set.requestId],
    )
    assert.deepEqual(entries.rows, [
      { patient_id: patientId, outcome: 'success', decision_rule: 'clinician.care-team-target-ranges' },
    ])

    const summary = await api(
      w.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${patientId}&${range()}&bucket=day&code=2339-0`,
    )
    assert.deepEqual(summary.body.series[0].target, { low: 110, high: 160, source: 'patient' })
    const profile = await api(
      w.users.clinicianTeam,
      'GET',
      `/device-data/glucose-profile?patient=${patientId}&${range()}`,
    )
    assert.deepEqual(
      [profile.body.targetSource, profile.body.thresholds],
      ['patient', { veryLow: 54, low: 110, high: 160, veryHigh: 250 }],
    )
    // 100 below (1); 120..160 in range (3); 180..240 high (4); 260..280 very high (2).
    assert.deepEqual(profile.body.timeInRanges, {
      veryLow: 0,
      low: 0.1,
      inRange: 0.3,
      high: 0.4,
      veryHigh: 0.2,
    })
    const read = await api(w.users.clinicianTeam, 'GET', `/patients/${patientId}/target-ranges`)
    assert.equal(read.body.targets.find((x: { code: string }) => x.code === '2339-0').source, 'patient')
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${patientId}/target-ranges`)).status,
      404,
    )

    // Setting again replaces it; clearing brings the default back.
    assert.equal(
      (
        await api(w.users.clinicianTeam, 'PUT', `/patients/${patientId}/target-ranges/2339-0`, {
          low: 90,
          high: 170,
          unit: 'mg/dL',
        })
      ).body.low,
      90,
    )
    assert.equal(
      (await t.db.query('SELECT 1 FROM patient_target_ranges WHERE patient_id = $1', [patientId])).rows
        .length,
      1,
      'one row per patient and code',
    )
    assert.equal(
      (await api(w.users.clinicianTeam, 'DELETE', `/patients/${patientId}/target-ranges/2339-0`)).status,
      204,
    )
    const after = await api(
      w.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${patientId}&${range()}&bucket=day&code=2339-0`,
    )
    assert.deepEqual(after.body.series[0].target, { low: 70, high: 180, source: 'default' })
  })
})
