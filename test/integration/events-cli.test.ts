// `vigil events list|redrive|replay` (issue 16; ADR-0020), run as the real CLI process on an
// embedded data directory prepared in this process.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, test } from 'node:test'
import { migrate, openDatabase } from '../../src/platform/db/index.ts'
import { childEnv, CLI_ARGS, removeDir, run, tempDir } from './server-process.ts'

let dataDir: string | undefined
after(() => removeDir(dataDir))

test('[SRS-EVT-364] `vigil events list --status dead` shows dead letters, `redrive` queues them again, `replay` queues past events again with their event ids; each change is audited', async () => {
  dataDir = tempDir('events-cli')
  const db = await openDatabase({ pgliteDir: dataDir })
  const subscriptionId = randomUUID()
  let eventId: string
  try {
    await migrate(db)
    const org = (
      await db.query<{ id: string }>("INSERT INTO organisations (name) VALUES ('CLI clinic') RETURNING id")
    ).rows[0]?.id as string
    await db.query(
      "INSERT INTO event_subscriptions (id, kind, organisation_id, owner_kind, owner_id, scopes, url, event_types) VALUES ($1, 'webhook', $2, 'organisation', $3, ARRAY['device-data:read'], 'https://hooks.example.com/x', ARRAY['device-data.accepted'])",
      [subscriptionId, org, org],
    )
    const patientId = randomUUID()
    const outbox = (
      await db.query<{ id: number; event_id: string }>(
        "INSERT INTO outbox (topic, payload, published_at) VALUES ('device-data.accepted', $1, now()) RETURNING id, event_id",
        [JSON.stringify({ patientId, readingIds: [randomUUID()] })],
      )
    ).rows[0]
    eventId = outbox?.event_id as string
    await db.query(
      "INSERT INTO event_deliveries (destination, subscription_id, outbox_id, event_id, event_type, order_key, status, attempts, last_status, last_error, event_created_at, finished_at) VALUES ($1, $2, $3, $4, 'device-data.accepted', $5, 'dead', 12, 503, 'HTTP 503', now() - interval '2 days', now())",
      [`webhook:${subscriptionId}`, subscriptionId, outbox?.id, eventId, patientId],
    )
  } finally {
    await db.close()
  }
  const env = childEnv(dataDir)
  const cli = async (...args: string[]) => {
    const r = await run(process.execPath, [...CLI_ARGS, 'events', ...args], { env })
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  const listed = await cli('list', '--status', 'dead')
  assert.equal(listed.counts.dead, 1)
  assert.equal(listed.deliveries.length, 1)
  assert.equal(listed.deliveries[0].eventId, eventId)
  assert.equal(listed.deliveries[0].lastError, 'HTTP 503')
  assert.deepEqual(await cli('redrive', '--subscription', subscriptionId), { redriven: 1 })
  const check = await openDatabase({ pgliteDir: dataDir })
  try {
    const status = async () =>
      (
        await check.query<{ status: string; attempts: number }>(
          'SELECT status, attempts FROM event_deliveries WHERE event_id = $1',
          [eventId],
        )
      ).rows[0]
    assert.equal((await status())?.status, 'pending')
    await check.query(
      "UPDATE event_deliveries SET status = 'delivered', finished_at = now() WHERE event_id = $1",
      [eventId],
    )
  } finally {
    await check.close()
  }
  assert.deepEqual(
    await cli(
      'replay',
      '--subscription',
      subscriptionId,
      '--since',
      new Date(Date.now() - 3_600_000).toISOString(),
    ),
    { replayed: 1 },
  )

  const after = await openDatabase({ pgliteDir: dataDir })
  try {
    assert.deepEqual(
      (
        await after.query<{ status: string; attempts: number }>(
          'SELECT status, attempts FROM event_deliveries WHERE event_id = $1',
          [eventId],
        )
      ).rows,
      [{ status: 'pending', attempts: 0 }],
    )
    const { rows } = await after.query<{ action: string }>(
      "SELECT action FROM audit_entries WHERE actor_kind = 'system' AND action LIKE 'events.%' ORDER BY occurred_at",
    )
    assert.deepEqual(
      rows.map((r) => r.action),
      ['events.redrive', 'events.replay'],
    )
  } finally {
    await after.close()
  }
})
