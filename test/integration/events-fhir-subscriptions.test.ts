// FHIR R4 Subscriptions per the Subscriptions R5 Backport IG (issue 16; ADR-0021): a clinician's
// SMART app creates a Subscription with fhir-kit-client against the real server; the rest-hook
// endpoint (a real HTTPS receiver) gets the handshake, then a notification Bundle per accepted
// reading; $status and $events answer; bad topics, channels and filters are OperationOutcomes.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Client } from 'fhir-kit-client'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts'
import { buildWorld, mintToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
const TOPIC = 'https://vigil.dev/fhir/SubscriptionTopic/new-observation'
const FILTER = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria'
const CONTENT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content'

describe('FHIR Subscriptions (R4 Backport IG)', () => {
  let t: TestApp
  let w: World
  let rx: WebhookReceiver
  let fhir: Client
  let base: string
  let isolated: Awaited<ReturnType<typeof openIsolatedDatabase>>

  const subscription = (over: Json = {}, channel: Json = {}) => ({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'test',
    criteria: TOPIC,
    _criteria: {
      extension: [{ url: FILTER, valueString: `Observation?patient=Patient/${w.patients.patient}` }],
    },
    channel: {
      type: 'rest-hook',
      endpoint: `${rx.url}/fhir`,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: CONTENT, valueCode: 'full-resource' }] },
      ...channel,
    },
    ...over,
  })
  const status = (bundle: Json) =>
    Object.fromEntries(
      (bundle.entry[0].resource.parameter as Json[])
        .filter((p) => p.valueCode || p.valueString)
        .map((p) => [p.name, p.valueCode ?? p.valueString]),
    )

  before(async () => {
    rx = await startWebhookReceiver()
    isolated = await openIsolatedDatabase()
    t = await createTestApp({
      env: { EVENTS_RELAY: 'true', EVENTS_RELAY_INTERVAL_MS: '40', EVENTS_WEBHOOK_CA_FILE: rx.caFile },
      deps: { db: isolated.db },
    })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/fhir/R4`
    w = await buildWorld(t.app)
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope: 'user/Subscription.write user/Subscription.read user/Observation.rs',
      resource: 'fhir',
    })
    fhir = new Client({ baseUrl: base, bearerToken: token })
  })
  after(async () => {
    await t?.close()
    await isolated?.drop()
    await rx?.close()
  })

  test('[SRS-EVT-365] a Subscription created with fhir-kit-client is handshaken, active, and notifies each new Observation of the patient as a Backport notification Bundle; $status and $events answer', async () => {
    const created = (await fhir.create({ resourceType: 'Subscription', body: subscription() })) as Json
    assert.equal(created.status, 'active', JSON.stringify(created))
    const handshake = rx.accepted.find(
      (r) => r.path === '/fhir' && status(r.json as Json).type === 'handshake',
    )
    assert.ok(handshake, 'handshake received')
    assert.equal((handshake.json as Json).type, 'history')
    const read = (await fhir.read({ resourceType: 'Subscription', id: created.id })) as Json
    assert.equal(read.criteria, TOPIC)

    const device = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    const posted = await t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${device}`, 'content-type': 'application/json' },
      payload: {
        readings: [
          {
            code: '2339-0',
            value: 123,
            unit: 'mg/dL',
            effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
          },
        ],
      },
    })
    assert.equal(posted.statusCode, 200, posted.body)
    const readingId = posted.json().results[0].id as string
    await rx.waitFor((a) =>
      a.some((r) => r.path === '/fhir' && status(r.json as Json).type === 'event-notification'),
    )
    const note = rx.accepted.find(
      (r) => r.path === '/fhir' && status(r.json as Json).type === 'event-notification',
    )!.json as Json
    assert.equal(status(note)['events-since-subscription-start'], '1')
    const event = (note.entry[0].resource.parameter as Json[]).find(
      (p) => p.name === 'notification-event',
    ) as Json
    assert.equal(event.part.find((p: Json) => p.name === 'event-number').valueString, '1')
    assert.equal(
      event.part.find((p: Json) => p.name === 'focus').valueReference.reference,
      `${base.replace(/http:\/\/127\.0\.0\.1:\d+/, t.config.publicUrl)}/Observation/${readingId}`,
    )
    assert.equal(note.entry[1].resource.resourceType, 'Observation')
    assert.equal(note.entry[1].resource.valueQuantity.value, 123)

    const st = (await fhir.operation({
      name: '$status',
      resourceType: 'Subscription',
      id: created.id,
      method: 'GET',
    })) as Json
    assert.equal(status(st).type, 'query-status')
    assert.equal(status(st).status, 'active')
    const replay = (await fhir.operation({
      name: '$events',
      resourceType: 'Subscription',
      id: created.id,
      method: 'GET',
      input: { eventsSinceNumber: '1', content: 'id-only' },
    })) as Json
    assert.equal(status(replay).type, 'query-event')
    assert.equal(replay.entry.length, 2)
    assert.equal(replay.entry[1].fullUrl.endsWith(`/Observation/${readingId}`), true)
    assert.equal(replay.entry[1].resource, undefined, 'id-only')

    const metadata = (await fhir.capabilityStatement()) as Json
    assert.ok((metadata.rest[0].resource as Json[]).some((r) => r.type === 'Subscription'))
    assert.ok((metadata.extension as Json[]).some((e) => e.valueCanonical === TOPIC))

    // Heartbeat: a second subscription with a 1-second period, and no events for it.
    const beating = (await fhir.create({
      resourceType: 'Subscription',
      body: subscription(
        {},
        {
          endpoint: `${rx.url}/beat`,
          extension: [
            {
              url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period',
              valueUnsignedInt: 1,
            },
          ],
        },
      ),
    })) as Json
    assert.equal(beating.status, 'active')
    await rx.waitFor(
      (a) => a.some((r) => r.path === '/beat' && status(r.json as Json).type === 'heartbeat'),
      15_000,
    )
    await fhir.delete({ resourceType: 'Subscription', id: beating.id })

    await fhir.delete({ resourceType: 'Subscription', id: created.id })
    await assert.rejects(fhir.read({ resourceType: 'Subscription', id: created.id }))
  })

  test('[SRS-EVT-365] the DiagnosticReport topic notifies a new report of the patient, full-resource; a token without a Subscription scope may not subscribe', async () => {
    const REPORT_TOPIC = 'https://vigil.dev/fhir/SubscriptionTopic/new-diagnostic-report'
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope:
        'user/Subscription.write user/Subscription.read user/DiagnosticReport.rs user/DiagnosticReport.cu user/Observation.rs',
      resource: 'fhir',
    })
    const client = new Client({ baseUrl: base, bearerToken: token })
    const body = subscription(
      {
        criteria: REPORT_TOPIC,
        _criteria: {
          extension: [{ url: FILTER, valueString: `DiagnosticReport?patient=Patient/${w.patients.patient}` }],
        },
      },
      { endpoint: `${rx.url}/reports` },
    )
    // Without a Subscription scope: refused, nothing stored.
    const readOnly = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope: 'user/DiagnosticReport.rs user/Observation.rs',
      resource: 'fhir',
    })
    const refused = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/Subscription',
      headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify(body),
    })
    assert.equal(refused.statusCode, 403, refused.body)
    assert.equal((refused.json() as Json).resourceType, 'OperationOutcome')

    const created = (await client.create({ resourceType: 'Subscription', body })) as Json
    assert.equal(created.status, 'active', JSON.stringify(created))
    const report = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/DiagnosticReport',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({
        resourceType: 'DiagnosticReport',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] },
        subject: { reference: `Patient/${w.patients.patient}` },
        effectiveDateTime: '2026-11-02T09:00:00+01:00',
        result: [{ reference: `Observation/${w.readings.patient}` }],
        conclusion: 'Reviewed.',
      }),
    })
    assert.equal(report.statusCode, 201, report.body)
    const reportId = report.json().id as string
    await rx.waitFor((a) =>
      a.some((r) => r.path === '/reports' && status(r.json as Json).type === 'event-notification'),
    )
    const note = rx.accepted.find(
      (r) => r.path === '/reports' && status(r.json as Json).type === 'event-notification',
    )!.json as Json
    assert.equal(
      (note.entry[0].resource.parameter as Json[]).find((p) => p.name === 'topic')?.valueCanonical,
      REPORT_TOPIC,
    )
    const event = (note.entry[0].resource.parameter as Json[]).find(
      (p) => p.name === 'notification-event',
    ) as Json
    assert.ok(
      String(event.part.find((p: Json) => p.name === 'focus').valueReference.reference).endsWith(
        `/DiagnosticReport/${reportId}`,
      ),
    )
    assert.equal(note.entry[1].resource.resourceType, 'DiagnosticReport')
    assert.equal(note.entry[1].resource.id, reportId)
    await client.delete({ resourceType: 'Subscription', id: created.id })
  })

  test('[SRS-AUTHZ-621] each FHIR interaction needs its own SMART permission through a real token: Subscription.rs reads but neither creates nor deletes, Observation.s searches but does not read by id and .r the reverse, and nothing is created by a refusal', async () => {
    const tokenWith = (scope: string) =>
      mintToken(t.app, t.config.publicUrl, {
        clientId: w.consoleClientId,
        accountId: w.users.clinicianTeam.id,
        scope,
        resource: 'fhir',
      })
    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/fhir+json',
          ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      return {
        status: res.status,
        wwwAuthenticate: res.headers.get('www-authenticate') ?? '',
        text: await res.text(),
      }
    }
    const count = async () =>
      Number(
        (
          await isolated.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM event_subscriptions WHERE kind = 'fhir'",
          )
        ).rows[0]?.n,
      )
    const existing = (await fhir.create({ resourceType: 'Subscription', body: subscription() })) as Json
    const before = await count()

    const readOnly = await tokenWith('user/Subscription.rs user/Observation.rs')
    assert.equal((await call(readOnly, 'GET', `Subscription/${existing.id}`)).status, 200, 'read with .rs')
    const created = await call(readOnly, 'POST', 'Subscription', subscription())
    assert.equal(created.status, 403, created.text)
    assert.match(created.wwwAuthenticate, /error="insufficient_scope"/)
    assert.match(created.wwwAuthenticate, /scope="user\/Subscription\.c"/)
    const deleted = await call(readOnly, 'DELETE', `Subscription/${existing.id}`)
    assert.equal(deleted.status, 403, deleted.text)
    assert.match(deleted.wwwAuthenticate, /scope="user\/Subscription\.d"/)
    assert.equal(await count(), before, 'nothing created, nothing deleted')
    assert.equal((await call(readOnly, 'GET', `Subscription/${existing.id}`)).status, 200, 'still there')

    const reading = w.readings.patient
    const searchOnly = await tokenWith('user/Observation.s')
    const searched = await call(searchOnly, 'GET', `Observation?patient=Patient/${w.patients.patient}`)
    assert.equal(searched.status, 200, searched.text)
    assert.ok(searched.text.includes(reading), 'the search finds the reading')
    const readBySearchOnly = await call(searchOnly, 'GET', `Observation/${reading}`)
    assert.equal(readBySearchOnly.status, 403, readBySearchOnly.text)
    assert.match(readBySearchOnly.wwwAuthenticate, /scope="user\/Observation\.r"/)

    const readOnlyObs = await tokenWith('user/Observation.r')
    assert.equal((await call(readOnlyObs, 'GET', `Observation/${reading}`)).status, 200, 'read by id with .r')
    const searchByReadOnly = await call(
      readOnlyObs,
      'GET',
      `Observation?patient=Patient/${w.patients.patient}`,
    )
    assert.equal(searchByReadOnly.status, 403, searchByReadOnly.text)
    assert.match(searchByReadOnly.wwwAuthenticate, /scope="user\/Observation\.s"/)

    for (const scope of ['user/Observation.rs', 'user/Observation.read']) {
      const both = await tokenWith(scope)
      assert.equal((await call(both, 'GET', `Observation/${reading}`)).status, 200, `${scope} reads`)
      assert.equal(
        (await call(both, 'GET', `Observation?patient=Patient/${w.patients.patient}`)).status,
        200,
        `${scope} searches`,
      )
    }
  })

  test('[SRS-EVT-366] an unknown topic or channel, or a filter on a patient the caller may not see, is refused with an OperationOutcome naming the element, and nothing is stored', async () => {
    const count = async () =>
      Number(
        (
          await t.db.query<{ n: number | string }>(
            "SELECT count(*) AS n FROM event_subscriptions WHERE kind = 'fhir'",
          )
        ).rows[0]?.n,
      )
    const before = await count()
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: w.users.clinicianTeam.id,
      scope: 'user/Subscription.write user/Subscription.read user/Observation.rs',
      resource: 'fhir',
    })
    const cases: Array<[Json, number, string]> = [
      [
        subscription({ criteria: 'https://vigil.dev/fhir/SubscriptionTopic/unknown' }),
        400,
        'Subscription.criteria',
      ],
      [subscription({}, { type: 'websocket' }), 400, 'Subscription.channel.type'],
      [
        subscription({
          _criteria: {
            extension: [{ url: FILTER, valueString: `Observation?patient=Patient/${w.patients.canary}` }],
          },
        }),
        403,
        'Subscription.criteria.extension',
      ],
    ]
    for (const [body, code, expression] of cases) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/fhir/R4/Subscription',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify(body),
      })
      assert.equal(res.statusCode, code, res.body)
      const outcome = res.json() as Json
      assert.equal(outcome.resourceType, 'OperationOutcome')
      assert.ok(JSON.stringify(outcome).includes(expression), `${expression} in ${res.body}`)
    }
    assert.equal(await count(), before)
  })
})
