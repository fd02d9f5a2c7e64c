// GET /api/v2/device-data (issue 5): a patient's readings by code and time under the policy
// decision point, decrypted, a page at a time with an opaque cursor.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('device-data query', () => {
  let t: TestApp
  let w: World
  let team: string
  const canaryValue = 277.7
  const sharedTime = new Date(Date.now() - 3 * 3600_000).toISOString()

  const get = (token: string, query: string) =>
    t.app.inject({
      method: 'GET',
      url: `/api/v2/device-data${query}`,
      headers: { authorization: `Bearer ${token}` },
    })
  const post = (token: string, body: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    })

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    team = await userToken(t.app, t.config.publicUrl, w, w.users.clinicianTeam)
    const device = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    // 25 readings, five of them in one millisecond (told apart by sequence), plus two blood pressures.
    const readings = Array.from({ length: 20 }, (_, i) => ({
      code: '8867-4',
      value: 60 + i,
      unit: '/min',
      effectiveDateTime: new Date(Date.now() - (i + 1) * 60_000).toISOString(),
    }))
    for (let s = 0; s < 5; s++)
      readings.push({
        code: '8867-4',
        value: 90 + s,
        unit: '/min',
        effectiveDateTime: sharedTime,
        sequence: s,
      } as (typeof readings)[number])
    const bp = [1, 2].map((i) => ({
      code: '85354-9',
      components: [
        { code: '8480-6', value: 120 + i, unit: 'mm[Hg]' },
        { code: '8462-4', value: 80, unit: 'mm[Hg]' },
      ],
      effectiveDateTime: new Date(Date.now() - i * 30_000).toISOString(),
    }))
    const res = await post(device, { readings: [...readings, ...bp] })
    assert.equal(res.json().created, 27, res.body)
    // A reading of the canary patient, through the other device, bound to the canary for this.
    await t.db.query(
      'UPDATE device_bindings SET unbound_at = now() WHERE device_id = $1 AND unbound_at IS NULL',
      [w.devices.other.id],
    )
    await t.db.query(
      "INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES (gen_random_uuid(), $1, $2, now(), 'test')",
      [w.devices.other.id, w.patients.canary],
    )
    const canaryDevice = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.other.clientId,
      scope: 'device-data:write',
    })
    const canary = await post(canaryDevice, {
      readings: [
        {
          code: '2339-0',
          value: canaryValue,
          unit: 'mg/dL',
          effectiveDateTime: new Date(Date.now() - 120_000).toISOString(),
          note: w.canaryValues[0],
        },
      ],
    })
    assert.equal(canary.statusCode, 200, canary.body)
  })
  after(() => t.close())

  test('[SRS-DATA-010] pages with a cursor return every reading exactly once, in time order, with values decrypted', async () => {
    const seen: Json[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await get(
        team,
        `?patient=${w.patients.patient}&code=8867-4&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      )
      assert.equal(res.statusCode, 200, res.body)
      const page = res.json()
      assert.ok(page.readings.length <= 4)
      seen.push(...page.readings)
      cursor = page.nextCursor
      pages++
    } while (cursor && pages < 20)
    assert.equal(seen.length, 25)
    assert.equal(new Set(seen.map((r) => r.id)).size, 25)
    const times = seen.map((r) => Date.parse(r.effectiveDateTime))
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    )
    assert.deepEqual(
      seen
        .filter((r) => r.sequence !== undefined)
        .map((r) => r.value)
        .sort(),
      [90, 91, 92, 93, 94],
    )
    assert.ok(
      seen.every(
        (r) => r.unit === '/min' && typeof r.value === 'number' && r.patientId === w.patients.patient,
      ),
    )
    const bp = (await get(team, `?patient=${w.patients.patient}&code=85354-9`)).json().readings as Json[]
    assert.equal(bp.length, 2)
    assert.deepEqual(
      bp[0]?.components.map((c: Json) => c.code),
      ['8480-6', '8462-4'],
    )
  })

  test('[SRS-DATA-010] from and to bound the device time; a patient reads their own readings without naming themselves', async () => {
    const from = new Date(Date.parse(sharedTime) - 1).toISOString()
    const to = new Date(Date.parse(sharedTime) + 1).toISOString()
    const window = (
      await get(
        team,
        `?patient=${w.patients.patient}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      )
    ).json().readings as Json[]
    assert.equal(window.length, 5)
    const own = await userToken(t.app, t.config.publicUrl, w, w.users.patient)
    const mine = await get(own, '?limit=1000')
    assert.equal(mine.statusCode, 200, mine.body)
    // 27 posted here, plus the world's own reading of this patient
    assert.equal(mine.json().readings.filter((r: { id: string }) => r.id !== w.readings.patient).length, 27)
    const bad = await get(team, `?patient=${w.patients.patient}&cursor=bm90LWEtY3Vyc29y`)
    assert.equal(bad.statusCode, 400)
  })

  test("[SRS-DATA-011] a clinician outside the care team gets 404; the canary patient's readings never reach anyone else", async () => {
    const outside = await userToken(t.app, t.config.publicUrl, w, w.users.clinicianOutside)
    const refused = await get(outside, `?patient=${w.patients.patient}`)
    assert.equal(refused.statusCode, 404)
    assert.equal((await get(outside, `?patient=${w.patients.canary}`)).statusCode, 404)
    const callers = [
      team,
      outside,
      await userToken(t.app, t.config.publicUrl, w, w.users.patient),
      await userToken(t.app, t.config.publicUrl, w, w.users.clinicianBreakGlass),
      await userToken(t.app, t.config.publicUrl, w, w.users.clinicianConsent),
    ]
    for (const token of callers) {
      const res = await get(token, '?limit=1000')
      for (const secret of [String(canaryValue), ...w.canaryValues, w.patients.canary])
        assert.ok(!res.body.includes(secret), `a ${res.statusCode} answer leaks the canary`)
    }
    // The canary sees their own reading: the check above is not vacuous.
    const canary = await get(await userToken(t.app, t.config.publicUrl, w, w.users.canary), '')
    assert.ok(canary.body.includes(String(canaryValue)))
  })
})
