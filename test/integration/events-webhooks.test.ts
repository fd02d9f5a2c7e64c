// Webhooks out of the outbox (issue 16; ADR-0020), end to end on real parts: the real app with its
// relay running, real tokens, a real HTTPS receiver with a test CA that verifies every delivery
// with the `standardwebhooks` library, and the policy decision point judging each delivery when
// it is sent.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('webhooks from the outbox', () => {
  let t: TestApp
  let w: World
  let rx: WebhookReceiver
  let orgAdminA: string
  let deviceToken: string
  // A schema of its own on PostgreSQL: one relay per outbox, and this one must be this test's.
  let isolated: Awaited<ReturnType<typeof openIsolatedDatabase>>

  const api = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    token: string,
    body?: unknown,
  ) => {
    const res = await t.app.inject({
      method,
      url: `/api/v2${url}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    })
    return { status: res.statusCode, body: (res.body ? res.json() : undefined) as Json, headers: res.headers }
  }
  let minute = 0
  const reading = (value: number) => {
    const d = new Date(Date.now() - 3_600_000 + ++minute * 1000 + 3600_000)
    return {
      code: '2339-0',
      value,
      unit: 'mg/dL',
      effectiveDateTime: `${d.toISOString().slice(0, 23)}+01:00`,
    }
  }
  const postReadings = async (...values: number[]) => {
    const res = await api('POST', '/device-data', deviceToken, { readings: values.map(reading) })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return (res.body.results as Json[]).map((r) => r.id as string)
  }
  const subscribe = async (token: string, body: Json, path = `/${randomUUID()}`) => {
    const res = await api('POST', '/subscriptions', token, { url: `${rx.url}${path}`, ...body })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    rx.secrets.set(path, res.body.secret as string)
    return { id: res.body.id as string, secret: res.body.secret as string, path }
  }
  const deliveries = async (subscriptionId: string) =>
    (
      await t.db.query<{ status: string; event_id: string; attempts: number; last_error: string | null }>(
        'SELECT status, event_id, attempts, last_error FROM event_deliveries WHERE subscription_id = $1 ORDER BY id',
        [subscriptionId],
      )
    ).rows
  const waitUntil = async (
    what: string,
    check: () => Promise<boolean>,
    timeoutMs = 20_000,
    state?: () => Promise<string>,
  ) => {
    const end = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}${state ? `: ${await state()}` : ''}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  before(async () => {
    rx = await startWebhookReceiver()
    isolated = await openIsolatedDatabase()
    t = await createTestApp({
      deps: { db: isolated.db },
      env: {
        EVENTS_RELAY: 'true',
        EVENTS_RELAY_INTERVAL_MS: '40',
        EVENTS_RETRY_BASE_MS: '50',
        EVENTS_RETRY_MAX_DELAY_MS: '200',
        // Long enough that a loaded machine's slow attempt (3 s timeout) is retried, not dead-lettered.
        // On PGlite the relay, the receiver and the database share this process, so a busy
        // stretch can delay an attempt and make it time out as well (12 s, when the window ran
        // from the event's creation, once left a first attempt with no retry: SRS-EVT-357).
        EVENTS_RETRY_FOR_SECONDS: '30',
        EVENTS_WEBHOOK_TIMEOUT_MS: '3000',
        EVENTS_WEBHOOK_CA_FILE: rx.caFile,
      },
    })
    w = await buildWorld(t.app)
    orgAdminA = await userToken(t.app, t.config.publicUrl, w, w.users.orgAdminA, 'admin:users')
    deviceToken = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
  })
  after(async () => {
    await t?.close()
    await isolated?.drop()
    await rx?.close()
  })

  test('[SRS-EVT-350] an organisation administrator subscribes; accepted readings arrive signed per Standard Webhooks, with the event id as webhook-id and the FHIR Observations when asked for', async () => {
    const sub = await subscribe(orgAdminA, {
      eventTypes: ['device-data.accepted'],
      payload: 'full-resource',
      patientId: w.patients.patient,
    })
    assert.match(sub.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
    const listed = await api('GET', '/subscriptions', orgAdminA)
    assert.equal(listed.status, 200)
    assert.ok(
      (listed.body.subscriptions as Json[]).some((s) => s.id === sub.id && s.secret === undefined),
      'listed, never with its secret',
    )
    assert.doesNotMatch(JSON.stringify(listed.body), /whsec_/)

    const ids = await postReadings(111, 112)
    const { rows } = await t.db.query<{ event_id: string }>(
      "SELECT event_id FROM outbox WHERE topic = 'device-data.accepted' AND payload->>'readingIds' LIKE $1",
      [`%${ids[0]}%`],
    )
    const eventId = rows[0]?.event_id
    assert.ok(eventId)
    await rx.waitFor((a) => a.some((r) => r.path === sub.path && r.id === eventId))
    const got = rx.accepted.find((r) => r.path === sub.path && r.id === eventId)!
    assert.equal(got.verified, true, 'the receiver verified the signature with standardwebhooks')
    assert.equal(got.json.type, 'device-data.accepted')
    assert.equal(got.json.data.eventId, eventId)
    assert.equal(got.json.data.patientId, w.patients.patient)
    assert.deepEqual(got.json.data.readingIds, ids)
    const resources = got.json.data.resources as Json[]
    assert.deepEqual(resources.map((r) => r.id).sort(), [...ids].sort())
    assert.equal(resources[0]?.resourceType, 'Observation')
    assert.deepEqual(resources.map((r) => r.valueQuantity.value).sort(), [111, 112])
    // The delivery is a disclosure: audited with the decision that permitted it.
    const audit = await t.db.query<{ outcome: string; decision_rule: string }>(
      'SELECT outcome, decision_rule FROM audit_entries WHERE actor_id = $1 AND resource_id = $2',
      [`subscription:${sub.id}`, eventId],
    )
    assert.equal(audit.rows[0]?.outcome, 'success')
    assert.equal(audit.rows[0]?.decision_rule, 'service.own-organisation')
  })

  test('[SRS-EVT-350] an id-only subscription (the default) receives identifiers only: no resources, no values', async () => {
    const sub = await subscribe(orgAdminA, {
      eventTypes: ['device-data.accepted'],
      patientId: w.patients.patient,
    })
    const [id] = await postReadings(187.5)
    await rx.waitFor((a) =>
      a.some(
        (r) =>
          r.path === sub.path && (r.json.data.readingIds as string[] | undefined)?.includes(id as string),
      ),
    )
    const got = rx.accepted.find((r) => r.path === sub.path)!
    assert.equal(got.verified, true)
    const identifiers = [
      'eventId',
      'patientId',
      'deviceId',
      'resourceId',
      'readingIds',
      'count',
      'source',
      'resourceType',
    ]
    assert.deepEqual(
      Object.keys(got.json.data).filter((k) => !identifiers.includes(k)),
      [],
      'identifiers only',
    )
    assert.deepEqual(got.json.data.readingIds, [id])
    assert.equal(got.json.data.resources, undefined, 'no FHIR resources')
    assert.doesNotMatch(got.body, /187\.5|mg\/dL|2339-0/, 'no value, unit or code')
  })

  test('[SRS-EVT-351] a receiver down for a while gets every event once it is back, each once, in order per patient', async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    rx.mode = 'down'
    const batches: string[][] = []
    for (let i = 0; i < 5; i++) batches.push(await postReadings(120 + i))
    await waitUntil('all five queued, the first retried', async () => {
      const d = await deliveries(sub.id)
      return d.length === 5 && (d[0]?.attempts ?? 0) >= 2
    })
    rx.mode = 'up'
    const expected = await t.db.query<{ event_id: string }>(
      'SELECT o.event_id FROM outbox o JOIN event_deliveries d ON d.outbox_id = o.id WHERE d.subscription_id = $1 ORDER BY o.id',
      [sub.id],
    )
    assert.equal(expected.rows.length, 5)
    const mine = () => rx.accepted.filter((r) => r.path === sub.path)
    await rx.waitFor(() => mine().length === 5)
    const order = mine().map((r) => r.id)
    assert.deepEqual(
      order,
      expected.rows.map((e) => e.event_id),
      'accepted in outbox order, each once',
    )
    assert.deepEqual(
      mine().map((r) => (r.json.data.readingIds as string[])[0]),
      batches.map((b) => b[0]),
    )
    // While down, the events of one patient were never sent out of order either.
    const sent = rx.requests.filter((r) => r.path === sub.path).map((r) => r.id)
    const firstSeen = [...new Set(sent)]
    assert.deepEqual(
      firstSeen,
      expected.rows.map((e) => e.event_id),
      'first attempts in order',
    )
    await waitUntil('every row marked delivered', async () =>
      (await deliveries(sub.id)).every((d) => d.status === 'delivered'),
    )
  })

  test('[SRS-EVT-352] consent revocation stops the delivery of an event already queued; with the consent it was delivered', async () => {
    // The patient consents to organisation B; organisation B's backend service subscribes.
    const patientToken = await userToken(t.app, t.config.publicUrl, w, w.users.patient, 'consent:manage')
    const granted = await api('POST', '/me/consents', patientToken, {
      granteeKind: 'organisation',
      granteeId: w.orgB,
      categories: ['device-data'],
      access: 'read',
      purpose: 'treatment',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    })
    assert.equal(granted.status, 201, JSON.stringify(granted.body))
    const serviceB = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.services.orgB.clientId,
      scope: 'subscriptions:manage device-data:read',
    })
    const sub = await subscribe(serviceB, {
      eventTypes: ['device-data.accepted'],
      patientId: w.patients.patient,
    })

    const [first] = await postReadings(130)
    await waitUntil('the first reading delivered under the consent', async () =>
      (await deliveries(sub.id)).some((d) => d.status === 'delivered'),
    )
    assert.ok(
      rx.accepted.some(
        (r) =>
          r.path === sub.path && (r.json.data.readingIds as string[] | undefined)?.includes(first as string),
      ),
    )

    rx.mode = 'down'
    const [second] = await postReadings(131)
    await waitUntil('the second reading queued and failing', async () =>
      (await deliveries(sub.id)).some((d) => d.status === 'pending' && d.attempts >= 1),
    )
    const revoked = await api('DELETE', `/me/consents/${granted.body.id}`, patientToken)
    assert.equal(revoked.status, 204)
    // The next decision after the revocation withholds it — even while the receiver is still down.
    // (An attempt already in flight, decided a moment before the revocation, is the one exception
    // the receiver may still see: it is answered 503 here and decided again.)
    await waitUntil('the queued delivery withheld', async () =>
      (await deliveries(sub.id)).every((d) => d.status !== 'pending'),
    )
    const rows = await deliveries(sub.id)
    assert.equal(rows.at(-1)?.status, 'withheld')
    assert.match(rows.at(-1)?.last_error ?? '', /not permitted at delivery time/)
    const sentBefore = rx.requests.length
    rx.mode = 'up'
    await new Promise((r) => setTimeout(r, 500))
    assert.ok(
      !rx.accepted.some(
        (r) =>
          r.path === sub.path && (r.json.data.readingIds as string[] | undefined)?.includes(second as string),
      ),
      'never accepted by the receiver',
    )
    assert.ok(
      !rx.requests.slice(sentBefore).some((r) => r.path === sub.path),
      'nothing sent after it was withheld',
    )
    const audit = await t.db.query<{ outcome: string; decision_rule: string }>(
      'SELECT outcome, decision_rule FROM audit_entries WHERE actor_id = $1 ORDER BY occurred_at DESC LIMIT 1',
      [`subscription:${sub.id}`],
    )
    assert.deepEqual(audit.rows[0], { outcome: 'denied', decision_rule: 'no-relationship' })
  })

  test("[SRS-EVT-353] a forged, tampered or replayed delivery is rejected by the receiver's standardwebhooks library", async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    await postReadings(140)
    await rx.waitFor((a) => a.some((r) => r.path === sub.path))
    const real = rx.accepted.find((r) => r.path === sub.path)!
    const headers = {
      'webhook-id': real.id,
      'webhook-timestamp': real.timestamp,
      'webhook-signature': real.signature,
    }
    const wh = new Webhook(sub.secret)
    assert.doesNotThrow(() => wh.verify(real.body, headers))
    // forged: signed with another secret
    const forger = new Webhook(`whsec_${Buffer.alloc(32, 9).toString('base64')}`)
    const forged = forger.sign(real.id, new Date(), real.body)
    assert.throws(() =>
      wh.verify(real.body, {
        ...headers,
        'webhook-signature': forged,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      }),
    )
    // tampered body
    assert.throws(() => wh.verify(real.body.replace(w.patients.patient, w.patients.otherPatient), headers))
    // replayed ten minutes later: the signed timestamp is outside the library's tolerance
    const old = new Date(Date.now() - 10 * 60_000)
    const replayed = wh.sign(real.id, old, real.body)
    assert.throws(() =>
      wh.verify(real.body, {
        ...headers,
        'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
        'webhook-signature': replayed,
      }),
    )
    // and the receiver itself refused a request with a bad signature (401), so it was never accepted
    const mine = () => rx.accepted.filter((r) => r.path === sub.path).length
    const before = mine()
    const res = await fetchReceiver(`${rx.url}${sub.path}`, real.body, {
      ...headers,
      'webhook-signature': forged,
    })
    assert.equal(res, 401)
    assert.equal(mine(), before)
  })

  test('[SRS-EVT-354] a rotated secret is shown once; during the overlap deliveries verify with the old and the new secret', async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    const rotated = await api('POST', `/subscriptions/${sub.id}/rotate-secret`, orgAdminA, {
      overlapSeconds: 3600,
    })
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body))
    assert.equal(rotated.headers['cache-control'], 'no-store')
    const fresh = rotated.body.secret as string
    assert.notEqual(fresh, sub.secret)
    assert.ok(rotated.body.previousSecretExpiresAt)
    rx.secrets.set(sub.path, fresh)
    const [id] = await postReadings(150)
    await rx.waitFor((a) =>
      a.some(
        (r) =>
          r.path === sub.path && (r.json.data.readingIds as string[] | undefined)?.includes(id as string),
      ),
    )
    const got = rx.accepted.find(
      (r) => r.path === sub.path && (r.json.data.readingIds as string[] | undefined)?.includes(id as string),
    )!
    assert.ok(verifies(fresh, got), 'the new secret verifies')
    assert.ok(verifies(sub.secret, got), 'the previous secret verifies too during the overlap')
    const read = await api('GET', `/subscriptions/${sub.id}`, orgAdminA)
    assert.doesNotMatch(JSON.stringify(read.body), /whsec_/)
  })

  test('[SRS-EVT-355] a receiver answering 410 Gone switches the subscription off; its deliveries are dead letters an administrator re-drives', async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    rx.mode = 'gone'
    await postReadings(160)
    await waitUntil(
      'the subscription switched off',
      async () => (await api('GET', `/subscriptions/${sub.id}`, orgAdminA)).body.status === 'off',
    )
    const dead = await api('GET', `/subscriptions/${sub.id}/deliveries?status=dead`, orgAdminA)
    assert.equal(dead.status, 200)
    assert.equal((dead.body.deliveries as Json[]).length, 1)
    assert.equal(dead.body.deliveries[0].lastStatus, 410)
    rx.mode = 'up'
    const redriven = await api('POST', `/subscriptions/${sub.id}/redrive`, orgAdminA)
    assert.deepEqual(redriven.body, { redriven: 1 })
    await waitUntil('the re-driven delivery delivered', async () =>
      (await deliveries(sub.id)).every((d) => d.status === 'delivered'),
    )
    assert.equal((await api('GET', `/subscriptions/${sub.id}`, orgAdminA)).body.status, 'active')
  })

  test('[SRS-EVT-356] an event queued long after it was created (the relay was down) still gets its retries: the period runs from the queueing', async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    rx.mode = 'down'
    try {
      const [id] = await postReadings(171)
      // The event is made older than the whole retry period (30 s here), as if the relay had been
      // down for a minute: in the outbox, for a fan-out still to come, and on its delivery row if
      // the fan-out has happened already.
      await t.db.query(
        "UPDATE outbox SET created_at = created_at - interval '60 seconds' WHERE topic = 'device-data.accepted' AND payload->>'readingIds' LIKE $1",
        [`%${id}%`],
      )
      await waitUntil('the delivery queued', async () => (await deliveries(sub.id)).length === 1)
      await t.db.query(
        "UPDATE event_deliveries SET event_created_at = event_created_at - interval '60 seconds' WHERE subscription_id = $1 AND event_created_at > now() - interval '30 seconds'",
        [sub.id],
      )
      await waitUntil(
        'three failed attempts, each followed by a retry',
        async () => {
          const [row] = await deliveries(sub.id)
          assert.notEqual(row?.status, 'dead', `dead-lettered after ${row?.attempts} attempt(s)`)
          return (row?.attempts ?? 0) >= 3
        },
        20_000,
      )
    } finally {
      rx.mode = 'up'
    }
    await waitUntil('delivered once the receiver is back', async () =>
      (await deliveries(sub.id)).every((d) => d.status === 'delivered'),
    )
  })

  test('[SRS-EVT-356] a delivery that keeps failing is dead-lettered after the retry period (EVENTS_RETRY_FOR_SECONDS)', async () => {
    const sub = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    rx.mode = 'down'
    await postReadings(170)
    try {
      await waitUntil(
        'the delivery dead-lettered',
        async () => (await deliveries(sub.id)).some((d) => d.status === 'dead'),
        70_000,
      )
    } finally {
      rx.mode = 'up'
    }
    const [row] = await deliveries(sub.id)
    assert.ok((row?.attempts ?? 0) >= 3, `retried with back-off first (${row?.attempts} attempts)`)
    assert.match(row?.last_error ?? '', /HTTP 503/)
  })

  test('[SRS-EVT-357] device bound and unbound, consent granted and revoked, and DiagnosticReport created are events too', async () => {
    const sub = await subscribe(orgAdminA, {
      eventTypes: [
        'device.bound',
        'device.unbound',
        'consent.granted',
        'consent.revoked',
        'diagnostic-report.created',
      ],
      patientId: w.patients.patient,
    })
    // a device of organisation A, bound and unbound by its administrator
    const deviceId = randomUUID()
    await t.db.query(
      "INSERT INTO devices (id, organisation_id, manufacturer, model, serial, type) VALUES ($1, $2, 'Acme', 'GlucoOne', $3, 'glucometer')",
      [deviceId, w.orgA, `SN-${deviceId}`],
    )
    const adminDevices = await userToken(t.app, t.config.publicUrl, w, w.users.orgAdminA, 'devices:manage')
    assert.equal(
      (await api('PUT', `/devices/${deviceId}/binding`, adminDevices, { patientId: w.patients.patient }))
        .status,
      200,
    )
    assert.equal((await api('DELETE', `/devices/${deviceId}/binding`, adminDevices)).status, 204)
    const patientToken = await userToken(t.app, t.config.publicUrl, w, w.users.patient, 'consent:manage')
    const granted = await api('POST', '/me/consents', patientToken, {
      granteeKind: 'user',
      granteeId: w.users.clinicianOrgB.id,
      categories: ['reports'],
      access: 'read',
      purpose: 'treatment',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    })
    assert.equal(granted.status, 201)
    assert.equal((await api('DELETE', `/me/consents/${granted.body.id}`, patientToken)).status, 204)
    const clinician = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope: 'user/DiagnosticReport.cu user/Observation.rs',
      resource: 'fhir',
    })
    const report = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/DiagnosticReport',
      headers: { authorization: `Bearer ${clinician}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({
        resourceType: 'DiagnosticReport',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
        subject: { reference: `Patient/${w.patients.patient}` },
        effectiveDateTime: '2026-11-01T09:00:00+01:00',
        result: [{ reference: `Observation/${w.readings.patient}` }],
      }),
    })
    assert.equal(report.statusCode, 201, report.body)
    const reportId = report.json().id as string
    const want = [
      'device.bound',
      'device.unbound',
      'consent.granted',
      'consent.revoked',
      'diagnostic-report.created',
    ]
    // Up to 60 s, and on a timeout the deliveries' states: on a loaded machine (PGlite, two test
    // files on two cores) one attempt can time out and wait for its back-off before the retry.
    await waitUntil(
      'five events delivered',
      async () => (await deliveries(sub.id)).filter((d) => d.status === 'delivered').length === 5,
      60_000,
      async () => JSON.stringify(await deliveries(sub.id)),
    )
    const mine = (await deliveries(sub.id)).map((d) => d.event_id)
    const got = mine.map((id) => rx.accepted.find((r) => r.path === sub.path && r.id === id)!)
    assert.deepEqual(
      got.map((r) => r.json.type),
      want,
      'in the order they happened',
    )
    assert.equal(got[0]?.json.data.resourceId, deviceId)
    assert.equal(got[2]?.json.data.resourceId, granted.body.id)
    assert.equal(got[4]?.json.data.resourceId, reportId)
    assert.ok(got.every((r) => r.json.data.patientId === w.patients.patient))
  })

  test('[SRS-EVT-367] /metrics reports events delivered, retried, dead and withheld, the queue by state and the delivery latency histogram', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    const text = res.body
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 'NaN')
    assert.ok(value(/^vigil_events_delivered_total\{destination="webhook"\} (\d+)/m) > 0, 'delivered')
    assert.ok(value(/^vigil_events_retried_total\{destination="webhook"\} (\d+)/m) > 0, 'retried')
    assert.ok(value(/^vigil_events_dead_total\{destination="webhook"\} (\d+)/m) > 0, 'dead')
    assert.ok(value(/^vigil_events_withheld_total (\d+)/m) > 0, 'withheld')
    assert.ok(
      value(/^vigil_events_delivery_latency_seconds_count\{destination="webhook"\} (\d+)/m) > 0,
      'latency histogram',
    )
    assert.match(text, /^vigil_events_queue\{state="pending"\} \d+/m)
    assert.match(text, /^vigil_events_queue\{state="dead"\} \d+/m)
  })

  test('[SRS-EVT-358] bad subscriptions are refused with problem+json naming the field, and nothing is stored', async () => {
    const count = async () =>
      Number(
        (await t.db.query<{ n: number | string }>('SELECT count(*) AS n FROM event_subscriptions')).rows[0]
          ?.n,
      )
    const before = await count()
    const cases: Array<[Json, number, string]> = [
      [
        { url: 'https://hooks.example.com/x', eventTypes: ['device-data.deleted'] },
        400,
        '/body/eventTypes/0',
      ],
      [{ url: 'not a url', eventTypes: ['device-data.accepted'] }, 400, '/body/url'],
      [
        { url: 'https://hooks.example.com/x', eventTypes: ['device-data.accepted'], secret: 'mine' },
        400,
        '/body/secret',
      ],
      [
        {
          url: 'https://hooks.example.com/x',
          eventTypes: ['device-data.accepted'],
          patientId: w.patients.canary,
        },
        403,
        '/body/patientId',
      ],
      [
        { url: 'https://hooks.example.com/x', eventTypes: ['device-data.accepted'], patientId: randomUUID() },
        403,
        '/body/patientId',
      ],
    ]
    for (const [body, status, pointer] of cases) {
      const res = await api('POST', '/subscriptions', orgAdminA, body)
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`)
      assert.match(String(res.headers['content-type']), /application\/problem\+json/)
      assert.ok(JSON.stringify(res.body).includes(pointer), `${pointer} named in ${JSON.stringify(res.body)}`)
    }
    // Others' subscriptions: concealed.
    const mine = await subscribe(orgAdminA, { eventTypes: ['device-data.accepted'] })
    const orgAdminB = await userToken(t.app, t.config.publicUrl, w, w.users.orgAdminB, 'admin:users')
    assert.equal((await api('GET', `/subscriptions/${mine.id}`, orgAdminB)).status, 404)
    assert.equal((await api('DELETE', `/subscriptions/${mine.id}`, orgAdminB)).status, 404)
    assert.equal(await count(), before + 1)
    assert.equal((await api('DELETE', `/subscriptions/${mine.id}`, orgAdminA)).status, 204)
    assert.equal(await count(), before)
  })
})

function verifies(
  secret: string,
  r: { body: string; id: string; timestamp: string; signature: string },
): boolean {
  try {
    new Webhook(secret).verify(r.body, {
      'webhook-id': r.id,
      'webhook-timestamp': r.timestamp,
      'webhook-signature': r.signature,
    })
    return true
  } catch {
    return false
  }
}

async function fetchReceiver(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const https = await import('node:https')
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
