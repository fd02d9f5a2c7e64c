// Delivered events are pruned after EVENTS_RETENTION_HOURS (issue 16, Deliver 1; ADR-0020,
// "Retention"): the relay's pass deletes delivered and withheld delivery rows, and the outbox rows
// with nothing pending or dead, once older than the retention period — and keeps everything else:
// dead letters (still re-drivable), pending deliveries and their events, and recent rows.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { createEvents } from '../../src/modules/events/index.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'
import { buildWorld, type World } from '../support/world.ts'

describe('event retention', () => {
  let t: TestApp
  let w: World
  let isolated: Awaited<ReturnType<typeof openIsolatedDatabase>>

  before(async () => {
    isolated = await openIsolatedDatabase()
    // The app's own relay stays off: the test runs the relay's pass itself, once.
    t = await createTestApp({
      env: { EVENTS_RELAY: 'false', EVENTS_RETENTION_HOURS: '2' },
      deps: { db: isolated.db },
    })
    w = await buildWorld(t.app)
  })
  after(async () => {
    await t?.close()
    await isolated?.drop()
  })

  test('[SRS-EVT-560] the relay prunes delivered and withheld deliveries and their outbox rows older than EVENTS_RETENTION_HOURS, and keeps dead letters, pending deliveries and recent rows', async () => {
    const subscriptionId = randomUUID()
    await t.db.query(
      "INSERT INTO event_subscriptions (id, kind, organisation_id, owner_kind, owner_id, scopes, url, event_types) VALUES ($1, 'webhook', $2, 'organisation', $3, ARRAY['device-data:read'], 'https://hooks.example.com/x', ARRAY['device-data.accepted'])",
      [subscriptionId, w.orgA, w.orgA],
    )
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString()
    /** One event, fanned out `age` hours ago, with one delivery in `status` finished then (or pending). */
    const event = async (status: 'delivered' | 'withheld' | 'dead' | 'pending', age: number) => {
      const row = (
        await t.db.query<{ id: number | string; event_id: string }>(
          "INSERT INTO outbox (topic, payload, patient_id, created_at, published_at) VALUES ('device-data.accepted', $1, $2, $3, $3) RETURNING id, event_id",
          [
            JSON.stringify({ patientId: w.patients.patient, readingIds: [randomUUID()] }),
            w.patients.patient,
            hoursAgo(age),
          ],
        )
      ).rows[0] as { id: number | string; event_id: string }
      await t.db.query(
        `INSERT INTO event_deliveries (destination, subscription_id, outbox_id, event_id, event_type, order_key, status, attempts, event_created_at, next_attempt_at, finished_at)
         VALUES ($1, $2, $3, $4, 'device-data.accepted', $5, $6, 1, $7, $8, $9)`,
        [
          `webhook:${subscriptionId}`,
          subscriptionId,
          row.id,
          row.event_id,
          w.patients.patient,
          status,
          hoursAgo(age),
          status === 'pending' ? hoursAgo(-1) : hoursAgo(age),
          status === 'pending' ? null : hoursAgo(age),
        ],
      )
      return row.event_id
    }
    const old = {
      delivered: await event('delivered', 3),
      withheld: await event('withheld', 3),
      dead: await event('dead', 3),
      pending: await event('pending', 3),
    }
    const recent = { delivered: await event('delivered', 1), withheld: await event('withheld', 1) }

    const events = createEvents(t.app.vigil.modules, { registry: new Registry() })
    try {
      const pass = await events.relay.runOnce()
      assert.equal(pass.leader, true)
    } finally {
      await events.stop()
    }

    const outbox = new Set(
      (await t.db.query<{ event_id: string }>('SELECT event_id FROM outbox')).rows.map((r) => r.event_id),
    )
    const deliveries = new Map(
      (
        await t.db.query<{ event_id: string; status: string }>(
          'SELECT event_id, status FROM event_deliveries WHERE subscription_id = $1',
          [subscriptionId],
        )
      ).rows.map((r) => [r.event_id, r.status]),
    )
    for (const [what, id] of [
      ['delivered', old.delivered],
      ['withheld', old.withheld],
    ] as const) {
      assert.equal(outbox.has(id), false, `the ${what} event past retention is pruned from the outbox`)
      assert.equal(deliveries.has(id), false, `its ${what} delivery is pruned`)
    }
    assert.equal(deliveries.get(old.dead), 'dead', 'a dead letter stays (re-drivable)')
    assert.ok(outbox.has(old.dead), 'with its event')
    assert.equal(deliveries.get(old.pending), 'pending', 'a pending delivery stays')
    assert.ok(outbox.has(old.pending), 'with its event')
    for (const id of Object.values(recent)) {
      assert.ok(outbox.has(id), 'a recent event stays (the replay window)')
      assert.ok(deliveries.has(id), 'with its delivery')
    }
  })
})
