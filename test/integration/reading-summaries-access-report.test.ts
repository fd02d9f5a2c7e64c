// The API operations behind the console (issue 15), through the real app: reading summaries and the
// glucose profile for a patient the caller may read (404 otherwise), and a patient's access report
// listing who read their data and on what grounds — never their own reads, never another patient's.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { sealReading } from '../../src/modules/device-data/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, worldApiRequest, type World } from '../support/world.ts'

const PUBLIC_URL = 'http://127.0.0.1:8080'

describe('reading summaries and the access report', () => {
  let t: TestApp
  let world: World
  const now = Date.now()

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } })
    world = await buildWorld(t.app)
    // 48 glucose readings over two days: 40 at 100 mg/dL, 4 at 50, 4 at 300.
    for (let i = 0; i < 48; i++) {
      const id = randomUUID()
      const value = i < 4 ? 50 : i < 8 ? 300 : 100
      await t.db.query(
        `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
         VALUES ($1, $2, NULL, '2339-0', 'laboratory', $3, 0, now(), $4, $5, $4, 'v2')`,
        [
          id,
          world.patients.otherPatient,
          new Date(now - (i + 1) * 3_600_000).toISOString(),
          `sum-${id}`,
          await sealReading(t.app.vigil.modules.cipher, world.patients.otherPatient, id, {
            value,
            unit: 'mg/dL',
          }),
        ],
      )
    }
    await t.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [world.patients.otherPatient, world.users.clinicianTeam.id, world.orgA],
    )
  })
  after(async () => t?.close())

  const range = () =>
    `from=${encodeURIComponent(new Date(now - 3 * 86_400_000).toISOString())}&to=${encodeURIComponent(new Date(now + 60_000).toISOString())}`

  test('[SRS-DATA-402] the summary answers hour or day buckets with count, min, max, mean and percentiles, and a default target range', async () => {
    const res = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${world.patients.otherPatient}&${range()}&bucket=day&timeZone=UTC`,
    )
    assert.equal(res.status, 200, res.raw)
    const glucose = res.body.series.find((s: { code: string }) => s.code === '2339-0')
    assert.deepEqual(glucose.target, { low: 70, high: 180, source: 'default' })
    assert.equal(
      glucose.buckets.reduce((n: number, b: { count: number }) => n + b.count, 0),
      48,
    )
    for (const b of glucose.buckets)
      assert.ok(b.min <= b.p25 && b.p25 <= b.p50 && b.p50 <= b.p75 && b.p75 <= b.max)
    const hourly = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${world.patients.otherPatient}&${range()}&bucket=hour&code=2339-0`,
    )
    assert.equal(hourly.body.series[0].buckets.length, 48)
  })

  test('[SRS-DATA-402] the glucose profile answers time in ranges; a caller who may not read the patient gets 404; bad input is 400', async () => {
    const res = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data/glucose-profile?patient=${world.patients.otherPatient}&${range()}&timeZone=Europe/Paris`,
    )
    assert.equal(res.status, 200, res.raw)
    assert.equal(res.body.readings, 48)
    assert.deepEqual(res.body.timeInRanges, {
      veryLow: round(4 / 48),
      low: 0,
      inRange: round(40 / 48),
      high: 0,
      veryHigh: round(4 / 48),
    })
    const refused = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianOutside,
      'GET',
      `/device-data/glucose-profile?patient=${world.patients.otherPatient}&${range()}`,
    )
    assert.equal(refused.status, 404)
    assert.doesNotMatch(refused.raw, /timeInRanges/)
    const badZone = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${world.patients.otherPatient}&${range()}&bucket=day&timeZone=Mars/Olympus`,
    )
    assert.equal(badZone.status, 400)
    const tooLong = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data/summary?patient=${world.patients.otherPatient}&from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z&bucket=day`,
    )
    assert.equal(tooLong.status, 400)
  })

  test("[SRS-AUDIT-402] the access report lists who read the patient's data and on what grounds, never the patient's own reads or another patient's", async () => {
    await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianConsent,
      'GET',
      `/patients/${world.patients.patient}`,
    )
    await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianTeam,
      'GET',
      `/device-data?patient=${world.patients.patient}`,
    )
    await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianBreakGlass,
      'GET',
      `/patients/${world.patients.patient}`,
    )
    await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.clinicianOutside,
      'GET',
      `/patients/${world.patients.patient}`,
    )
    await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.patient,
      'GET',
      `/patients/${world.patients.patient}`,
    )
    const report = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.patient,
      'GET',
      '/me/access-report?limit=200',
    )
    assert.equal(report.status, 200, report.raw)
    const entries = report.body.entries as Array<{
      actor: { id: string; email: string | null }
      action: string
      grounds: string
      outcome: string
      consentId: string | null
    }>
    const of = (u: { id: string }) => entries.filter((e) => e.actor.id === u.id)
    assert.ok(
      of(world.users.clinicianConsent).some(
        (e) => e.grounds === 'consent' && e.consentId === world.consents.live && e.action === 'patients.read',
      ),
    )
    assert.ok(
      of(world.users.clinicianTeam).some((e) => e.grounds === 'care-team' && e.action === 'device-data.read'),
    )
    assert.ok(of(world.users.clinicianBreakGlass).some((e) => e.grounds === 'break-glass'))
    assert.ok(
      of(world.users.clinicianOutside).some((e) => e.outcome === 'denied'),
      'a refused attempt is listed too',
    )
    assert.equal(of(world.users.clinicianConsent)[0]?.actor.email, world.users.clinicianConsent.email)
    assert.equal(of(world.users.patient).length, 0, "the patient's own reads are left out")
    const other = await worldApiRequest(
      t.app,
      PUBLIC_URL,
      world,
      world.users.otherPatient,
      'GET',
      '/me/access-report?limit=200',
    )
    assert.equal(other.status, 200)
    assert.ok(
      other.body.entries.every(
        (e: { actor: { id: string } }) => e.actor.id !== world.users.clinicianConsent.id,
      ),
      'another patient sees only accesses to their own record',
    )
    assert.equal(
      (await worldApiRequest(t.app, PUBLIC_URL, world, world.users.clinicianTeam, 'GET', '/me/access-report'))
        .status,
      403,
    )
  })
})

function round(f: number): number {
  return Math.round(f * 10000) / 10000
}
