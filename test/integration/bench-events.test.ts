// The events benchmark (bench/events.ts; docs/performance.md, "Event delivery") at a tiny size:
// it must keep working — the real server process, the subscription made through the API, the
// relay draining its backlog to a real HTTPS receiver verifying with `standardwebhooks`, the
// paced end-to-end phase, and the goal lines. The figures of a run this short mean nothing and are
// not judged here; speed is shown by `npm run bench`, never by a test.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { eventsOptionsFromEnv, runEventsBench } from '../../bench/events.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

test('[SRS-EVT-561] the events bench case runs end to end at a tiny size: every event delivered and verified, the relay and raw-insert rates, the end-to-end p50 and p99, and two goal lines with target, figure and met', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-events-test-'))
  const out = path.join(dir, 'bench.jsonl')
  try {
    const options = eventsOptionsFromEnv({
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      BENCH_CONCURRENCY: '4',
      BENCH_SECONDS: '1',
      BENCH_WARMUP_SECONDS: '0.5',
      BENCH_HALF_SECONDS: '1',
      BENCH_DEVICES: '2',
      BENCH_POOL: '4',
      BENCH_LOG_LEVEL: 'warn',
      BENCH_EVENTS_RELAY_INTERVAL_MS: '100',
      BENCH_DRAIN_TIMEOUT_SECONDS: '120',
      BENCH_OUT: out,
    })
    const result = await runEventsBench(options)
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json)
    assert.equal(result.ok, true, JSON.stringify(lines))
    assert.equal(result.engine, process.env.DATABASE_URL ? 'postgres' : 'pglite')
    const relay = lines.find((l) => l.case === 'events-relay') as Json
    assert.ok(relay.backlog > 0)
    assert.equal(relay.delivered, relay.backlog, 'the whole backlog delivered')
    assert.ok(relay.relayEventsPerSecond > 0 && relay.rawOutboxInsert.rowsPerSecond > 0)
    const e2e = lines.find((l) => l.case === 'events-end-to-end') as Json
    assert.equal(e2e.delivered, e2e.events, 'every half-load event delivered')
    assert.equal(e2e.receiver.badSignatures, 0)
    assert.ok(e2e.p50Ms > 0 && e2e.p99Ms >= e2e.p50Ms)
    const goals = lines.filter((l) => l.kind === 'goal')
    assert.deepEqual(
      goals.map((g) => g.goal),
      [1, 2],
    )
    for (const g of goals) {
      assert.equal(g.issue, 16)
      for (const c of g.checks as Json[]) {
        assert.equal(typeof c.target, 'number')
        assert.equal(typeof c.figure, 'number', `${c.measure} measured`)
        assert.equal(typeof c.met, 'boolean')
      }
    }
    assert.equal(typeof goals[1]?.relayToRawInsert, 'number')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
