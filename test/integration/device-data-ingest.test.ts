// Device-data ingestion (issue 5; ADR-0010) through HTTP with real tokens and a real database:
// the v2 batch contract and the deprecated v1 contract, safe retries (Idempotency-Key, dedup
// keys), all-or-nothing validation, who may write, the outbox and encryption at rest.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { openReading } from '../../src/modules/device-data/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('device-data ingestion', () => {
  let t: TestApp
  let w: World
  let deviceToken: string
  let otherDeviceToken: string
  let doc: Json

  const post = (path: string, token: string, body: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(body),
    })
  const count = async (where: string, params: unknown[]) =>
    Number(
      (await t.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM readings WHERE ${where}`, params))
        .rows[0]?.n,
    )
  const deviceCount = () => count('device_id = $1', [w.devices.bound.id])
  /** A time `minutesAgo` before now, in a +01:00 offset, to the millisecond. */
  const at = (minutesAgo: number, extraMs = 0) => {
    const d = new Date(Date.now() - minutesAgo * 60_000 + extraMs + 3600_000)
    return `${d.toISOString().slice(0, 23)}+01:00`
  }
  const glucose = (value: number, time: string, extra: Record<string, unknown> = {}) => ({
    code: '2339-0',
    value,
    unit: 'mg/dL',
    effectiveDateTime: time,
    ...extra,
  })

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    deviceToken = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    otherDeviceToken = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.other.clientId,
      scope: 'device-data:write',
    })
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
  })
  after(() => t.close())

  test('[SRS-DATA-001] the OpenAPI example of the v2 and v1 request bodies, posted with a device token, is accepted', async () => {
    for (const path of ['/api/v2/device-data', '/api/v1/device-data']) {
      const media = doc.paths[path].post.requestBody.content['application/json']
      const examples: unknown[] = [
        ...(media.example !== undefined ? [media.example] : []),
        ...Object.values((media.examples ?? {}) as Json).map((e: Json) => e.value),
      ]
      assert.ok(examples.length > 0, `${path} has an example`)
      for (const example of examples) {
        const res = await post(path, deviceToken, example)
        assert.ok(res.statusCode === 200 || res.statusCode === 201, `${path}: ${res.statusCode} ${res.body}`)
        if (path.includes('v2'))
          assert.ok(
            (res.json().results as Json[]).every((r) => r.outcome === 'created'),
            res.body,
          )
      }
    }
    assert.ok((await deviceCount()) >= 5)
  })

  test('[SRS-DATA-002] a batch retried with the same Idempotency-Key stores every reading once and replays the answer; another body under the key → 422', async () => {
    const key = `batch-${randomUUID()}`
    const body = { readings: [0, 1, 2].map((i) => glucose(100 + i, at(30 + i), { id: `idem-${key}-${i}` })) }
    const before = await deviceCount()
    const first = await post('/api/v2/device-data', deviceToken, body, { 'idempotency-key': key })
    assert.equal(first.statusCode, 200, first.body)
    assert.equal(first.json().created, 3)
    // The response was lost on the way back; the device retries the identical request.
    const retry = await post('/api/v2/device-data', deviceToken, body, { 'idempotency-key': key })
    assert.equal(retry.statusCode, 200)
    assert.equal(retry.headers['idempotent-replayed'], 'true')
    assert.deepEqual(retry.json(), first.json())
    assert.equal(await deviceCount(), before + 3)
    const other = await post(
      '/api/v2/device-data',
      deviceToken,
      { readings: [glucose(150, at(40), { id: `idem-${key}-x` })] },
      { 'idempotency-key': key },
    )
    assert.equal(other.statusCode, 422, other.body)
    assert.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED')
    assert.match(String(other.headers['content-type']), /^application\/problem\+json/)
    assert.equal(await deviceCount(), before + 3)
    // Without the key, the dedup keys still hold: nothing is stored twice.
    const again = await post('/api/v2/device-data', deviceToken, body)
    assert.deepEqual(
      again.json().results.map((r: Json) => r.outcome),
      ['duplicate', 'duplicate', 'duplicate'],
    )
    assert.deepEqual(
      again.json().results.map((r: Json) => r.id),
      first.json().results.map((r: Json) => r.id),
    )
    assert.equal(await deviceCount(), before + 3)
  })

  test('[SRS-DATA-002] two identical requests racing under one Idempotency-Key store the readings once', async () => {
    const key = `race-${randomUUID()}`
    const body = { readings: [glucose(111, at(50), { id: `race-${key}` })] }
    const before = await deviceCount()
    const [a, b] = await Promise.all([
      post('/api/v2/device-data', deviceToken, body, { 'idempotency-key': key }),
      post('/api/v2/device-data', deviceToken, body, { 'idempotency-key': key }),
    ])
    assert.equal(a.statusCode, 200, a.body)
    assert.equal(b.statusCode, 200, b.body)
    assert.deepEqual(a.json().results[0].id, b.json().results[0].id)
    assert.equal(await deviceCount(), before + 1)
    // Each request leaves exactly one audit entry, the one that lost the race included.
    const ids = [a.headers['x-request-id'], b.headers['x-request-id']] as string[]
    let counts: number[] = []
    for (let i = 0; i < 50; i++) {
      const { rows } = await t.db.query<{ request_id: string; n: number | string }>(
        'SELECT request_id, count(*) AS n FROM audit_entries WHERE request_id = ANY($1) GROUP BY request_id',
        [ids],
      )
      counts = ids.map((id) => Number(rows.find((r) => r.request_id === id)?.n ?? 0))
      if (counts.every((n) => n >= 1)) break
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.deepEqual(counts, [1, 1])
  })

  test('[SRS-DATA-003] readings differing only by 1 ms, or only by sequence, are both stored; an exact duplicate is reported and stored once', async () => {
    const time = at(60)
    const plus1ms = at(60, 1)
    const before = await deviceCount()
    const res = await post('/api/v2/device-data', deviceToken, {
      readings: [
        glucose(120, time),
        glucose(120, plus1ms),
        glucose(120, time, { sequence: 7 }),
        glucose(120, time, { sequence: 8 }),
        glucose(120, time),
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const outcomes = res.json().results.map((r: Json) => r.outcome)
    assert.deepEqual(outcomes, ['created', 'created', 'created', 'created', 'duplicate'])
    assert.equal(res.json().results[4].id, res.json().results[0].id)
    assert.equal(await deviceCount(), before + 4)
  })

  test('[SRS-DATA-003] a reading under a taken key with another value is rejected as a conflict and not stored', async () => {
    const id = `conflict-${randomUUID()}`
    const first = await post('/api/v2/device-data', deviceToken, { readings: [glucose(130, at(70), { id })] })
    const storedId = first.json().results[0].id as string
    const before = await deviceCount()
    const res = await post('/api/v2/device-data', deviceToken, {
      readings: [glucose(131, at(70), { id }), glucose(132, at(71), { id: `${id}-b` })],
    })
    assert.equal(res.statusCode, 200, res.body)
    const [conflict, created] = res.json().results as Json[]
    assert.equal(conflict?.outcome, 'rejected')
    assert.equal(conflict?.reason, 'conflict')
    assert.equal(conflict?.conflictsWith, storedId)
    assert.equal(created?.outcome, 'created')
    assert.equal(res.json().rejected, 1)
    assert.equal(await deviceCount(), before + 1)
    // The stored reading still holds the first value.
    const row = (
      await t.db.query<{ value_sealed: string }>('SELECT value_sealed FROM readings WHERE id = $1', [
        storedId,
      ])
    ).rows[0] as { value_sealed: string }
    assert.equal(
      (await openReading(t.app.vigil.modules.cipher, w.patients.patient, storedId, row.value_sealed)).value,
      130,
    )
  })

  test('[SRS-DATA-004] an unknown field, a missing offset, an out-of-range value, a wrong unit → 400 naming the index; nothing of the request is stored', async () => {
    const ok = glucose(99, at(80))
    const cases: Array<[string, Json, RegExp]> = [
      ['unknown field', { ...glucose(99, at(81)), colour: 'red' }, /^\/body\/readings\/2\/colour$/],
      [
        'missing offset',
        glucose(99, at(82).replace('+01:00', '')),
        /^\/body\/readings\/2\/effectiveDateTime$/,
      ],
      [
        'out-of-range value',
        { code: '8867-4', value: 900, unit: '/min', effectiveDateTime: at(83) },
        /^\/body\/readings\/2\/value$/,
      ],
      [
        'wrong unit',
        { code: '8867-4', value: 70, unit: 'mg/dL', effectiveDateTime: at(84) },
        /^\/body\/readings\/2\/unit$/,
      ],
      ['in the future', glucose(99, at(-30)), /^\/body\/readings\/2\/effectiveDateTime$/],
      [
        'panel without diastolic',
        {
          code: '85354-9',
          components: [{ code: '8480-6', value: 120, unit: 'mm[Hg]' }],
          effectiveDateTime: at(85),
        },
        /^\/body\/readings\/2\/components$/,
      ],
    ]
    const before = await deviceCount()
    // This device's outbox rows only: other test files write readings to the same PostgreSQL database.
    const outboxCount = async () =>
      Number(
        (
          await t.db.query<{ n: number }>(
            "SELECT count(*) AS n FROM outbox WHERE payload->>'deviceId' = $1",
            [w.devices.bound.id],
          )
        ).rows[0]?.n,
      )
    const outboxBefore = await outboxCount()
    for (const [what, bad, pointer] of cases) {
      const res = await post('/api/v2/device-data', deviceToken, { readings: [ok, glucose(98, at(86)), bad] })
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`)
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
      const problem = res.json()
      assert.ok(
        (problem.errors as Json[]).some((e) => pointer.test(e.pointer)),
        `${what}: ${JSON.stringify(problem.errors)}`,
      )
      // The value as a JSON token of its own, not as three digits inside a random identifier (a
      // request or trace id containing "900" failed this once in CI).
      assert.doesNotMatch(res.body, /(?<![\w.-])900(?:\.0+)?(?![\w.-])/, 'the value is not echoed')
    }
    assert.equal(await deviceCount(), before, 'nothing stored')
    assert.equal(await outboxCount(), outboxBefore, 'no outbox row')
    // Several bad readings: every index is named.
    const many = await post('/api/v2/device-data', deviceToken, {
      readings: [
        { code: '8867-4', value: 900, unit: '/min', effectiveDateTime: at(87) },
        ok,
        { code: '59408-5', value: 20, unit: '%', effectiveDateTime: at(88) },
      ],
    })
    assert.equal(many.statusCode, 400)
    assert.deepEqual(
      [...new Set((many.json().errors as Json[]).map((e) => e.pointer.split('/')[3]))].sort(),
      ['0', '2'],
    )
    assert.equal(await deviceCount(), before)
  })

  test("[SRS-DATA-004] glucose in mmol/L is checked and stored in the code's unit; the device time keeps its offset and the receipt time is stored", async () => {
    const time = `${new Date(Date.now() - 90 * 60_000 - 330 * 60_000).toISOString().slice(0, 23)}-05:30`
    const res = await post('/api/v2/device-data', deviceToken, {
      readings: [
        { code: '2339-0', value: 5.5, unit: 'mmol/L', effectiveDateTime: time, id: `mmol-${randomUUID()}` },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const id = res.json().results[0].id as string
    const row = (
      await t.db.query<{
        value_sealed: string
        effective_offset_minutes: number
        received_at: Date
        effective_at: Date
      }>('SELECT * FROM readings WHERE id = $1', [id])
    ).rows[0]
    assert.ok(row)
    assert.equal(Number(row.effective_offset_minutes), -330)
    assert.ok(Math.abs(new Date(row.received_at).getTime() - Date.now()) < 60_000)
    const content = await openReading(t.app.vigil.modules.cipher, w.patients.patient, id, row.value_sealed)
    assert.deepEqual({ value: content.value, unit: content.unit }, { value: 99.1, unit: 'mg/dL' })
  })

  test('[SRS-DATA-005] a device cannot write for another patient (404); a patient token cannot write (403); an unbound device is refused (409)', async () => {
    const before = await count('patient_id = $1', [w.patients.otherPatient])
    const res = await post('/api/v2/device-data', deviceToken, {
      patientId: w.patients.otherPatient,
      readings: [glucose(100, at(95))],
    })
    assert.equal(res.statusCode, 404, res.body)
    const patientToken = await userToken(t.app, t.config.publicUrl, w, w.users.patient)
    const asPatient = await post('/api/v2/device-data', patientToken, {
      patientId: w.patients.patient,
      readings: [glucose(100, at(96))],
    })
    assert.equal(asPatient.statusCode, 403, asPatient.body)
    const v1AsPatient = await post('/api/v1/device-data', patientToken, {
      type: 'glucose',
      value: 100,
      unit: 'mg/dL',
      time: at(96),
    })
    assert.equal(v1AsPatient.statusCode, 403, v1AsPatient.body)
    assert.equal(await count('patient_id = $1', [w.patients.otherPatient]), before)

    await t.db.query(
      'UPDATE device_bindings SET unbound_at = now() WHERE device_id = $1 AND unbound_at IS NULL',
      [w.devices.other.id],
    )
    const unbound = await post('/api/v2/device-data', otherDeviceToken, { readings: [glucose(100, at(97))] })
    assert.equal(unbound.statusCode, 409, unbound.body)
    assert.equal(
      unbound.json().code,
      'DEVICE_NOT_BOUND',
      'a device can tell "pair me first" from any conflict',
    )
    assert.equal(await count('patient_id = $1', [w.patients.otherPatient]), before)
  })

  test('[SRS-DATA-005] a clinician in the care team writes by naming the patient; one outside the team gets 404', async () => {
    const team = await userToken(t.app, t.config.publicUrl, w, w.users.clinicianTeam)
    const ok = await post('/api/v2/device-data', team, {
      patientId: w.patients.patient,
      readings: [{ code: '29463-7', value: 71.5, unit: 'kg', effectiveDateTime: at(98) }],
    })
    assert.equal(ok.statusCode, 200, ok.body)
    const outside = await userToken(t.app, t.config.publicUrl, w, w.users.clinicianOutside)
    const refused = await post('/api/v2/device-data', outside, {
      patientId: w.patients.patient,
      readings: [{ code: '29463-7', value: 71.5, unit: 'kg', effectiveDateTime: at(99) }],
    })
    assert.equal(refused.statusCode, 404, refused.body)
  })

  test('[SRS-DATA-006] each accepted batch writes one outbox row with identifiers only, in its transaction', async () => {
    const res = await post('/api/v2/device-data', deviceToken, {
      readings: [glucose(123.4, at(100)), glucose(123.4, at(101))],
    })
    const ids = (res.json().results as Json[]).map((r) => r.id as string)
    const { rows } = await t.db.query<{ topic: string; payload: Json }>(
      "SELECT topic, payload FROM outbox WHERE payload->>'deviceId' = $1 ORDER BY id DESC LIMIT 1",
      [w.devices.bound.id],
    )
    const payload =
      typeof rows[0]?.payload === 'string'
        ? JSON.parse(rows[0].payload as unknown as string)
        : rows[0]?.payload
    assert.equal(rows[0]?.topic, 'device-data.accepted')
    assert.deepEqual(payload.readingIds, ids)
    assert.equal(payload.patientId, w.patients.patient)
    assert.equal(payload.count, 2)
    assert.ok(!JSON.stringify(payload).includes('123.4'), 'no value in the event')
  })

  test('[SRS-CRYPTO-010] the raw rows hold no reading value or note in plaintext; a ciphertext copied into another row does not decrypt', async () => {
    const note = `note-${randomUUID()}`
    const res = await post('/api/v2/device-data', deviceToken, {
      readings: [
        glucose(123.4, at(110), { id: `plain-${randomUUID()}`, note }),
        {
          code: '85354-9',
          components: [
            { code: '8480-6', value: 187, unit: 'mm[Hg]' },
            { code: '8462-4', value: 113, unit: 'mm[Hg]' },
          ],
          effectiveDateTime: at(111),
        },
      ],
    })
    assert.equal(res.statusCode, 200, res.body)
    const [a, b] = (res.json().results as Json[]).map((r) => r.id as string) as [string, string]
    const { rows } = await t.db.query<Record<string, unknown>>(
      'SELECT * FROM readings WHERE patient_id = $1',
      [w.patients.patient],
    )
    const raw = JSON.stringify(rows)
    for (const secret of ['123.4', note, '"value"', 'mg/dL', 'mm[Hg]'])
      assert.ok(!raw.includes(secret), `${secret} is not in the raw rows`)
    const sealedA = (rows.find((r) => r.id === a) as { value_sealed: string }).value_sealed
    const { cipher } = t.app.vigil.modules
    assert.equal((await openReading(cipher, w.patients.patient, a, sealedA)).note, note)
    await t.db.query('UPDATE readings SET value_sealed = $2 WHERE id = $1', [b, sealedA])
    const sealedB = (
      await t.db.query<{ value_sealed: string }>('SELECT value_sealed FROM readings WHERE id = $1', [b])
    ).rows[0]?.value_sealed as string
    await assert.rejects(openReading(cipher, w.patients.patient, b, sealedB))
    await assert.rejects(openReading(cipher, w.patients.otherPatient, a, sealedA))
  })

  test('[SRS-API-003] v1 stores one reading, answers with Deprecation, Sunset and a successor Link, and its OpenAPI operation is deprecated', async () => {
    const time = at(120)
    const res = await post('/api/v1/device-data', deviceToken, {
      type: 'heart-rate',
      value: 64,
      unit: 'bpm',
      time,
    })
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.json().status, 'created')
    assert.equal(res.headers.sunset, new Date(`${t.config.deviceData.v1Sunset}T00:00:00Z`).toUTCString())
    assert.match(String(res.headers.deprecation), /^@\d+$/)
    assert.match(String(res.headers.link), /<\/api\/v2\/device-data>; rel="successor-version"/)
    const again = await post('/api/v1/device-data', deviceToken, {
      type: 'heart-rate',
      value: 64,
      unit: 'bpm',
      time,
    })
    assert.equal(again.statusCode, 200)
    assert.deepEqual(again.json(), { id: res.json().id, status: 'duplicate' })
    const conflict = await post('/api/v1/device-data', deviceToken, {
      type: 'heart-rate',
      value: 65,
      unit: 'bpm',
      time,
    })
    assert.equal(conflict.statusCode, 409)
    assert.equal(conflict.json().code, 'READING_ALREADY_STORED')
    const bad = await post('/api/v1/device-data', deviceToken, {
      type: 'heart-rate',
      value: 900,
      unit: 'bpm',
      time: at(121),
    })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.headers.sunset, res.headers.sunset, 'errors carry the headers too')
    assert.equal(doc.paths['/api/v1/device-data'].post.deprecated, true)
    assert.notEqual(doc.paths['/api/v2/device-data'].post.deprecated, true)
  })
})

describe('device quotas and rate limits', () => {
  let t: TestApp
  let w: World
  let token: string
  const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString()
  const post = (body: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    })

  before(async () => {
    t = await createTestApp({ env: { DEVICE_RATE_LIMIT_PER_MINUTE: '4' } })
    w = await buildWorld(t.app)
    token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
  })
  after(() => t.close())

  test('[SRS-DATA-007] a device over its daily quota gets 429 with Retry-After until UTC midnight, and the batch is not stored', async () => {
    await t.db.query('UPDATE devices SET daily_quota = 3 WHERE id = $1', [w.devices.bound.id])
    const ok = await post({
      readings: [1, 2, 3].map((i) => ({
        code: '8867-4',
        value: 60 + i,
        unit: '/min',
        effectiveDateTime: at(i),
      })),
    })
    assert.equal(ok.statusCode, 200, ok.body)
    const over = await post({
      readings: [{ code: '8867-4', value: 70, unit: '/min', effectiveDateTime: at(10) }],
    })
    assert.equal(over.statusCode, 429, over.body)
    assert.match(String(over.headers['content-type']), /^application\/problem\+json/)
    const retryAfter = Number(over.headers['retry-after'])
    assert.ok(retryAfter >= 1 && retryAfter <= 86_400, `Retry-After ${retryAfter}`)
    const n = (
      await t.db.query<{ n: number | string }>(
        "SELECT count(*) AS n FROM readings WHERE device_id = $1 AND code = '8867-4'",
        [w.devices.bound.id],
      )
    ).rows[0]?.n
    assert.equal(Number(n), 3)
  })

  test('[SRS-DATA-007] a device over its requests per minute gets 429 with Retry-After', async () => {
    // Limit 4 a minute: of 10 requests in a row, some are refused for the device's rate even if
    // a minute boundary falls in between (the daily quota is spent, so the others get its 429).
    const limited = []
    for (let i = 0; i < 10; i++) {
      const res = await post({
        readings: [{ code: '8867-4', value: 70, unit: '/min', effectiveDateTime: at(20 + i) }],
      })
      if (res.statusCode === 429 && /this device/.test(String(res.json().detail)))
        limited.push(Number(res.headers['retry-after']))
    }
    assert.ok(limited.length >= 2, `rate-limited ${limited.length} times`)
    for (const s of limited) assert.ok(s >= 1 && s <= 60, `Retry-After ${s}`)
  })
})
