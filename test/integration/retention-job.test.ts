// Retention as a periodic job of the server (issue 12, ADR-0025): with RETENTION_INTERVAL_SECONDS
// set, running apps delete what `vigil retention run` deletes, and with several apps on one
// database the run happens once per period across them (the one scheduler, scheduled_jobs), not
// once per app; with 0 it never runs by itself. The same apps run the other periodic jobs (audit
// checkpoints, anomaly scans) on the same scheduler: each is claimed once per period too.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { createJobClaimer } from '../../src/platform/db/scheduler.ts'
import { createTestApp, openIsolatedDatabase, type TestApp } from '../support/app.ts'

const DAY = 86_400_000

async function checkpoints(db: TestApp['db']): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_checkpoints')
  return Number(rows[0]?.n ?? 0)
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function runs(db: TestApp['db']): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(
    "SELECT count(*) AS n FROM audit_entries WHERE action = 'retention.run'",
  )
  return Number(rows[0]?.n ?? 0)
}

test('[SRS-OPS-502] [SRS-OPS-254] three running apps on one database with RETENTION_INTERVAL_SECONDS=2: retention deletes spent credentials and runs once per period across them, not once per app; so do audit checkpoints and anomaly scans', async () => {
  const { db, drop } = await openIsolatedDatabase()
  const apps: TestApp[] = []
  const checkpointFile = path.join(os.tmpdir(), `vigil-retention-job-${randomUUID()}.jsonl`)
  // The real claimer, with the claims each app won written down (job name, time).
  const won: { job: string; at: number }[] = []
  const claimer = () => {
    const inner = createJobClaimer(db, randomUUID())
    return {
      async claim(job: string, periodSeconds: number) {
        const mine = await inner.claim(job, periodSeconds)
        if (mine) won.push({ job, at: performance.now() })
        return mine
      },
    }
  }
  try {
    const expired = `expired-${randomUUID()}`
    const fresh = `fresh-${randomUUID()}`
    await db.query(
      "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, response_body, expires_at) VALUES ('client:x', $1, 'h', 201, '{}', $2), ('client:x', $3, 'h', 201, '{}', $4)",
      [expired, new Date(Date.now() - 31 * DAY), fresh, new Date(Date.now() + DAY)],
    )
    for (let i = 0; i < 3; i++)
      apps.push(
        await createTestApp({
          env: {
            RETENTION_INTERVAL_SECONDS: '2',
            AUDIT_CHECKPOINT_INTERVAL_SECONDS: '2',
            AUDIT_CHECKPOINT_FILE: checkpointFile,
            ANOMALY_INTERVAL_SECONDS: '2',
          },
          deps: { db, jobs: claimer() },
        }),
      )
    const windowStart = performance.now()
    await sleep(6_500)
    const windowMs = performance.now() - windowStart
    // Runs are counted by when their period was claimed; what they did is counted once every app
    // has stopped (closing an app waits for its running jobs).
    const wins = (job: string) =>
      won.filter((w) => w.job === job && w.at >= windowStart && w.at < windowStart + windowMs).length
    const inWindow = {
      retention: wins('retention'),
      checkpoint: wins('audit-checkpoint'),
      anomaly: wins('anomaly-scan'),
    }
    const instances = apps.length
    const ticks = instances * Math.floor(windowMs / 2_000)
    for (const t of apps.splice(0)) await t.close()
    const total = (job: string) => won.filter((w) => w.job === job).length
    const retentionRuns = await runs(db)
    const checkpointRows = await checkpoints(db)
    const { rows: keys } = await db.query<{ key: string }>(
      'SELECT key FROM idempotency_keys WHERE key = ANY($1)',
      [[expired, fresh]],
    )
    const { rows: job } = await db.query<{ last_run_by: string | null }>(
      "SELECT last_run_by FROM scheduled_jobs WHERE name = 'retention'",
    )
    console.log(
      `# retention-job: ${instances} apps, ${Math.round(windowMs)} ms, ${ticks} ticks per job; runs claimed in the window: retention ${inWindow.retention}, ` +
        `audit-checkpoint ${inWindow.checkpoint}, anomaly-scan ${inWindow.anomaly}; over the apps' lives ${total('retention')} retention claims / ${retentionRuns} retention.run entries, ` +
        `${total('audit-checkpoint')} checkpoint claims / ${checkpointRows} checkpoints`,
    )
    assert.deepEqual(
      keys.map((k) => k.key),
      [fresh],
      'the expired idempotency key was deleted by the scheduled run, the fresh one kept',
    )
    assert.equal(job.length, 1, 'the period is claimed on the one scheduler')
    // Claims succeed once 80 % of a period has passed: at most one run per 1.6 s, whatever the number of apps.
    for (const [name, n] of Object.entries(inWindow)) {
      assert.ok(n >= 2, `${name} ran every period (${n} runs)`)
      assert.ok(
        n <= Math.ceil(windowMs / 1_600) + 1,
        `${name}: once per period across the apps, not once per app (${n} runs for ${ticks} ticks)`,
      )
    }
    assert.equal(
      retentionRuns,
      total('retention'),
      'every retention run was a claim won (one retention.run audit entry each), none without',
    )
    assert.equal(checkpointRows, total('audit-checkpoint'), 'every checkpoint was a claim won, none without')
  } finally {
    for (const t of apps) await t.close()
    await drop()
    rmSync(checkpointFile, { force: true })
  }
})

test('[SRS-OPS-502] RETENTION_INTERVAL_SECONDS=0 turns the scheduled run off', async () => {
  const { db, drop } = await openIsolatedDatabase()
  const t = await createTestApp({
    env: { RETENTION_INTERVAL_SECONDS: '0' },
    deps: { db, jobs: createJobClaimer(db, randomUUID()) },
  })
  try {
    const expired = `expired-${randomUUID()}`
    await db.query(
      "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, response_body, expires_at) VALUES ('client:x', $1, 'h', 201, '{}', $2)",
      [expired, new Date(Date.now() - 31 * DAY)],
    )
    await sleep(2_500)
    assert.equal(await runs(db), 0)
    const { rows } = await db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [expired])
    assert.equal(rows.length, 1, 'nothing deleted without the CLI')
  } finally {
    await t.close()
    await drop()
  }
})
