// Fault test (issue 12, ADR-0017): a Redis of the test's own frozen (SIGSTOP) under a running
// server. Every request passes the rate-limit hook, which asks Redis first; with Redis frozen a
// request may cost at most REDIS_COMMAND_TIMEOUT_MS, and once the circuit opens nothing at all.
// Readiness stays 200 ("degraded", Redis down) so a load balancer keeps the instance; when Redis
// thaws the state returns to "ok".
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../support/ports.ts'
import { childEnv, Proc, removeDir, startServer, tempDir, until, type Serving } from './server-process.ts'

const COMMAND_TIMEOUT_MS = 200

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

describe('Redis frozen under a running server', () => {
  let dir: string
  let redis: Proc | undefined
  let serving: Serving | undefined
  let frozen = false

  before(async () => {
    dir = tempDir('faults-redis')
    const port = await freePort()
    redis = new Proc(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { env: { PATH: process.env.PATH ?? '' } },
    )
    await redis.waitFor(
      'redis ready',
      () => (redis!.stdout.includes('Ready to accept connections') ? true : undefined),
      10_000,
    )
    serving = await startServer(
      childEnv(dir, {
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        RATE_LIMIT_PER_MINUTE: '1000000', // the limiter runs (and asks Redis) on every request
        AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
        ANOMALY_INTERVAL_SECONDS: '0',
      }),
    )
  })
  after(async () => {
    if (frozen && redis) redis.signal('SIGCONT')
    await serving?.proc.kill()
    await redis?.kill()
    removeDir(dir)
  })

  test('[SRS-OPS-251] with Redis frozen, no API request waits longer than the command timeout, readiness says "degraded" (200), and Redis is back in use once it thaws', async () => {
    assert.ok(serving && redis)
    const base = serving.address
    const timed = async (): Promise<number> => {
      const start = performance.now()
      const res = await fetch(`${base}/api/v2/`, { signal: AbortSignal.timeout(15_000) })
      await res.arrayBuffer()
      assert.equal(res.status, 200)
      return performance.now() - start
    }
    const readiness = async () => {
      const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(15_000) })
      return {
        status: res.status,
        body: (await res.json()) as { status: string; checks: Record<string, { status: string }> },
      }
    }
    for (let i = 0; i < 20; i++) await timed() // warm-up
    const baseline: number[] = []
    for (let i = 0; i < 50; i++) baseline.push(await timed())
    // The state before the freeze is "ok". On a loaded machine (CI runs the suite two files at a
    // time) one command may have outlasted the 200 ms timeout during the warm-up and tripped the
    // circuit for its cool-down: wait for "ok" rather than catch that second.
    await until(
      'readiness "ok" before the freeze',
      async () => ((await readiness()).body.status === 'ok' ? true : undefined),
      10_000,
      50,
    )

    redis.signal('SIGSTOP')
    frozen = true
    const frozenAt = performance.now()
    const during: number[] = []
    while (performance.now() - frozenAt < 2_500) during.push(await timed())
    const ready = await readiness()

    redis.signal('SIGCONT')
    frozen = false
    const thawedAt = performance.now()
    const back = await until(
      'Redis in use again',
      async () =>
        (await readiness()).body.checks.redis?.status === 'ok' ? performance.now() - thawedAt : undefined,
      10_000,
      50,
    )

    // A request that waited on the frozen Redis waited the whole command timeout; one merely slowed
    // by a loaded machine (CI runs two test files on two cores) did not. Count the former.
    const waitedMs = COMMAND_TIMEOUT_MS * 0.9
    const slow = during.filter((ms) => ms >= waitedMs).length
    console.log(
      `# faults-redis: baseline p50 ${percentile(baseline, 50).toFixed(1)} ms p99 ${percentile(baseline, 99).toFixed(1)} ms; frozen ${during.length} requests ` +
        `p50 ${percentile(during, 50).toFixed(1)} ms p99 ${percentile(during, 99).toFixed(1)} ms max ${Math.max(...during).toFixed(1)} ms, ` +
        `${slow} of ${waitedMs} ms or more, ${during.filter((ms) => ms > COMMAND_TIMEOUT_MS / 2).length} over ${COMMAND_TIMEOUT_MS / 2} ms, 5xx 0; ready during ${ready.status} ${ready.body.status}; Redis back in use ${Math.round(back)} ms after thaw`,
    )
    assert.equal(ready.status, 200, 'a frozen Redis does not take the instance out of the load balancer')
    assert.equal(ready.body.status, 'degraded')
    assert.equal(ready.body.checks.redis?.status, 'down')
    // Before the circuit opens, each request waits one command timeout (three in a row open it);
    // while open, one trial per cool-down (1 s) may wait one more. Nothing waits longer.
    assert.ok(
      Math.max(...during) < COMMAND_TIMEOUT_MS + 500,
      `no request waited beyond the command timeout (max ${Math.max(...during).toFixed(0)} ms)`,
    )
    assert.ok(slow <= 3 + 3, `only the requests that opened or tried the circuit waited (${slow})`)
    assert.ok(during.length >= 20, 'the API kept serving while Redis was frozen')
    assert.ok(
      percentile(during, 50) < percentile(baseline, 50) + 50,
      'the typical request is as fast as before the freeze',
    )
    assert.ok(serving.proc.running)
  })
})
