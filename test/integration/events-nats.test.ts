// The NATS JetStream stream (issue 16; ADR-0020) on the local nats-server with JetStream
// (.ci/run starts it): with NATS_URL set, every event is published to the stream, created when
// absent, on vigil.events.<type> with the event id as message id, identifiers only; JetStream
// drops a second publish of the same event. Unreachable NATS degrades readiness, never fails it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { eventsRepository } from '../../src/modules/events/index.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, type World } from '../support/world.ts'

const NATS_URL = process.env.NATS_TEST_URL ?? 'nats://127.0.0.1:4222'
const STREAM = 'VIGIL_EVENTS'

describe('events on NATS JetStream', () => {
  let t: TestApp
  let w: World
  let nc: NatsConnection
  let jsm: JetStreamManager
  let isolated: Awaited<ReturnType<typeof openIsolatedDatabase>>

  const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  before(async () => {
    nc = await connect({ servers: NATS_URL, timeout: 5_000 })
    jsm = await jetstreamManager(nc)
    // The app must create the stream when it is absent.
    await jsm.streams.delete(STREAM).catch(() => false)
    isolated = await openIsolatedDatabase()
    t = await createTestApp({
      env: { EVENTS_RELAY: 'true', EVENTS_RELAY_INTERVAL_MS: '40', NATS_URL, NATS_STREAM: STREAM },
      deps: { db: isolated.db },
    })
    w = await buildWorld(t.app)
  })
  after(async () => {
    await t?.close()
    await isolated?.drop()
    await nc?.close()
  })

  test('[SRS-EVT-360] every event is published to the stream (created if absent) on vigil.events.<type>, message id = event id, identifiers only; a second publish of the event is dropped by JetStream', async () => {
    await waitUntil(
      'the stream created by the app',
      async () => (await jsm.streams.info(STREAM).catch(() => undefined)) !== undefined,
    )
    const before = (await jsm.streams.info(STREAM)).state.last_seq
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    const time = `${new Date(Date.now() - 60_000).toISOString().slice(0, 23)}Z`
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v2/device-data',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: { readings: [{ code: '2339-0', value: 97.25, unit: 'mg/dL', effectiveDateTime: time }] },
    })
    assert.equal(res.statusCode, 200, res.body)
    const readingId = res.json().results[0].id as string
    const { rows } = await t.db.query<{ id: number; event_id: string }>(
      "SELECT id, event_id FROM outbox WHERE topic = 'device-data.accepted' AND payload->>'readingIds' LIKE $1",
      [`%${readingId}%`],
    )
    const event = rows[0]
    assert.ok(event)
    await waitUntil('published', async () => (await jsm.streams.info(STREAM)).state.last_seq > before)
    const stored = await jsm.streams.getMessage(STREAM, { seq: before + 1 })
    assert.ok(stored)
    assert.equal(stored.subject, 'vigil.events.device-data.accepted')
    assert.equal(stored.header.get('Nats-Msg-Id'), event.event_id)
    const body = stored.json<{ type: string; data: Record<string, unknown> }>()
    assert.equal(body.type, 'device-data.accepted')
    assert.equal(body.data.eventId, event.event_id)
    assert.deepEqual(body.data.readingIds, [readingId])
    assert.doesNotMatch(
      new TextDecoder().decode(stored.data),
      /97\.25|valueQuantity|resources/,
      'identifiers only, never a value',
    )
    // The relay records the delivery after JetStream's acknowledgement, so the stream can show the
    // message a moment before the row says so.
    const deliveryStatus = async () =>
      (
        await t.db.query<{ status: string }>(
          "SELECT status FROM event_deliveries WHERE destination = 'nats' AND outbox_id = $1",
          [event.id],
        )
      ).rows[0]?.status
    await waitUntil('the delivery recorded', async () => (await deliveryStatus()) === 'delivered')

    // Replayed (as after a crash between publish and the row's update): the stream keeps one copy.
    const replayed = await eventsRepository.eventsByOutboxIds(t.db, [event.id])
    await eventsRepository.replay(t.db, 'nats', null, [...replayed.values()], new Date())
    await waitUntil('the replay processed', async () => (await deliveryStatus()) === 'delivered')
    assert.equal(
      (await jsm.streams.info(STREAM)).state.last_seq,
      before + 1,
      'JetStream deduplicated the message id',
    )

    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' })
    assert.equal(ready.statusCode, 200)
    assert.equal(ready.json().checks.nats.status, 'ok')
  })

  test('[SRS-EVT-361] NATS unreachable: /health/ready stays 200 and reports nats as degraded; the events wait as pending deliveries', async () => {
    const down = await openIsolatedDatabase()
    const app = await createTestApp({
      env: {
        EVENTS_RELAY: 'true',
        EVENTS_RELAY_INTERVAL_MS: '40',
        EVENTS_RETRY_BASE_MS: '50',
        NATS_URL: 'nats://127.0.0.1:1',
        NATS_STREAM: STREAM,
      },
      deps: { db: down.db },
    })
    try {
      const ready = await app.app.inject({ method: 'GET', url: '/health/ready' })
      assert.equal(ready.statusCode, 200, ready.body)
      assert.equal(ready.json().checks.nats.status, 'degraded')
      const world = await buildWorld(app.app)
      const token = await mintToken(app.app, app.config.publicUrl, {
        clientId: world.devices.bound.clientId,
        scope: 'device-data:write',
      })
      const time = `${new Date(Date.now() - 60_000).toISOString().slice(0, 23)}Z`
      const res = await app.app.inject({
        method: 'POST',
        url: '/api/v2/device-data',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: { readings: [{ code: '2339-0', value: 99, unit: 'mg/dL', effectiveDateTime: time }] },
      })
      assert.equal(res.statusCode, 200)
      await waitUntil(
        'a failed publish attempt',
        async () =>
          (
            await app.db.query<{ attempts: number }>(
              "SELECT attempts FROM event_deliveries WHERE destination = 'nats' AND status = 'pending' AND attempts > 0",
            )
          ).rows.length > 0,
      )
    } finally {
      await app.close()
      await down.drop()
    }
  })
})
