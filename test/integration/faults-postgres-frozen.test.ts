// Fault test (issue 12, ADR-0017, ADR-0025): a FROZEN PostgreSQL. Every process of a cluster of
// the test's own (postmaster and backends) is stopped with SIGSTOP under load, then continued with
// SIGCONT. A frozen server accepts TCP connections (the kernel does) but never answers, so nothing
// but the service's own deadlines can end a request: the client-side statement deadline
// (DATABASE_STATEMENT_TIMEOUT_MS + 2 s), the connect timeout, then the circuit breaker. The server
// must stay up, answer 503 with Retry-After within those deadlines (never hang), say 503 on
// /health/ready, serve again within 2 s of SIGCONT and lose no acknowledged reading.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import {
  DatabaseUnavailableError,
  migrate,
  openDatabase,
  type Database,
} from '../../src/platform/db/index.ts'
import { registerInstance } from '../../src/platform/db/instances.ts'
import { createTestApp } from '../support/app.ts'
import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'
import { freePort } from '../support/ports.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { buildWorld, type World } from '../support/world.ts'
import { childEnv, removeDir, spawnServer, tempDir, type Serving } from './server-process.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const STATEMENT_TIMEOUT_MS = 1_000
const CONNECT_TIMEOUT_MS = 1_000
/** The longest a request may wait on a frozen database: one client-side statement deadline, one connect timeout, and slack for a loaded machine. */
const BOUND_MS = STATEMENT_TIMEOUT_MS + 2_000 + CONNECT_TIMEOUT_MS + 2_000
const FREEZE_MS = 7_000

interface Outcome {
  readonly id: string
  readonly status: number | 'network-error' | 'timeout'
  readonly start: number
  readonly at: number
  readonly retryAfter?: string | null
  readonly problem?: boolean
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // gone meanwhile
    }
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

describe('PostgreSQL frozen (SIGSTOP) under load', () => {
  let base: string
  let cluster: PgCluster
  let url: string
  let issuer: string
  let w: World
  let serving: Serving | undefined
  let frozen: number[] = []
  let direct: Database | undefined
  let check: Database | undefined

  before(async () => {
    base = tempDir('faults-pg-frozen')
    cluster = await PgCluster.create(base)
    cluster.start()
    url = await cluster.createDatabase('vigil_frozen')
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}`
    const db = await openDatabase({ databaseUrl: url, poolMax: 4 })
    await migrate(db)
    const t = await createTestApp({ env: { PUBLIC_URL: issuer, DATABASE_URL: url }, deps: { db } })
    try {
      w = await buildWorld(t.app)
    } finally {
      await t.close()
      await db.close()
    }
    const env = childEnv(base, {
      PORT: String(port),
      PUBLIC_URL: issuer,
      DATABASE_URL: url,
      ENCRYPTION_KEYRING: TEST_KEYRING,
      COOKIE_SECRET: TEST_COOKIE_SECRET,
      LOG_LEVEL: 'info',
      DATABASE_POOL_MAX: '8',
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
      ANOMALY_INTERVAL_SECONDS: '0',
      RETENTION_INTERVAL_SECONDS: '0',
    })
    const proc = spawnServer(env)
    try {
      const line = await proc.waitForLog('"vigil is serving"', (e) => e.msg === 'vigil is serving')
      serving = { proc, address: String(line.address) }
    } catch (err) {
      await proc.kill()
      throw err
    }
  })
  after(async () => {
    signalAll(frozen, 'SIGCONT') // never leave the cluster stopped, whatever failed
    await serving?.proc.kill()
    await direct?.close().catch(() => undefined)
    await check?.close().catch(() => undefined)
    await cluster?.destroy()
    removeDir(base)
  })

  test('[SRS-OPS-500] [SRS-OPS-501] [SRS-OAUTH-500] [SRS-PERF-601] with PostgreSQL frozen the server stays up and answers 503 within the deadlines, readiness says 503, service returns within 2 s of SIGCONT, nothing acknowledged lost; the configured database circuit threshold holds', async () => {
    assert.ok(serving)
    const config = await client.discovery(
      new URL(issuer),
      w.devices.bound.clientId,
      undefined,
      client.ClientSecretBasic(w.devices.bound.clientSecret),
      { execute: [client.allowInsecureRequests] },
    )
    const token = (
      await client.clientCredentialsGrant(config, { scope: 'device-data:write', resource: `${issuer}/api` })
    ).access_token
    // A database handle of the test's own with a circuit configured as DATABASE_CIRCUIT_* would:
    // two failures open it, and it stays open for the whole freeze.
    direct = await openDatabase({
      databaseUrl: url,
      poolMax: 2,
      statementTimeoutMs: 300,
      connectTimeoutMs: 500,
      circuit: { failureThreshold: 2, cooldownMs: 60_000 },
    })
    await direct.query('SELECT 1')

    const outcomes: Outcome[] = []
    let seq = 0
    const post = async (id: string): Promise<Outcome> => {
      const start = performance.now()
      const body = JSON.stringify({
        readings: [
          {
            id,
            code: '2339-0',
            value: 100 + (seq % 50),
            unit: 'mg/dL',
            effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
          },
        ],
      })
      try {
        const res = await fetch(`${issuer}/api/v2/device-data`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(20_000),
        })
        await res.text()
        return {
          id,
          status: res.status,
          start,
          at: performance.now(),
          retryAfter: res.headers.get('retry-after'),
          problem: res.headers.get('content-type')?.startsWith('application/problem+json') ?? false,
        }
      } catch (err) {
        return {
          id,
          status: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network-error',
          start,
          at: performance.now(),
        }
      }
    }
    let running = true
    const writer = async (n: number) => {
      while (running) {
        const outcome = await post(`frozen-${n}-${seq++}`)
        outcomes.push(outcome)
        if (outcome.status !== 200) await sleep(50)
      }
    }
    const writers = [0, 1, 2].map(writer)
    await sleep(800)

    // Freeze every process of the cluster.
    frozen = cluster.pids()
    assert.ok(frozen.length >= 2, 'the postmaster and its backends')
    signalAll(frozen, 'SIGSTOP')
    const frozenAt = performance.now()

    // The test's own handle: two failures (each bounded by the client-side deadline), then the circuit fails the third at once.
    const directFailures: { reason: string | undefined; ms: number }[] = []
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      const err = await direct.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      )
      assert.ok(
        err instanceof DatabaseUnavailableError,
        `query ${i + 1} on the frozen database fails as unavailable`,
      )
      directFailures.push({ reason: err.reason, ms: performance.now() - t0 })
    }

    // Readiness, liveness and the token endpoint while frozen.
    const timed = async (fn: () => Promise<Response>) => {
      const t0 = performance.now()
      const res = await fn()
      const text = await res.text()
      return {
        status: res.status,
        ms: performance.now() - t0,
        retryAfter: res.headers.get('retry-after'),
        text,
      }
    }
    await sleep(Math.max(0, frozenAt + 3_500 - performance.now()))
    const ready = await timed(() => fetch(`${issuer}/health/ready`, { signal: AbortSignal.timeout(20_000) }))
    const live = await timed(() => fetch(`${issuer}/health/live`, { signal: AbortSignal.timeout(20_000) }))
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(w.devices.bound.clientId)}:${encodeURIComponent(w.devices.bound.clientSecret)}`).toString('base64')}`
    const tokenDuring = await timed(() =>
      fetch(`${issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: basic,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'device-data:write',
          resource: `${issuer}/api`,
        }).toString(),
        signal: AbortSignal.timeout(20_000),
      }),
    )
    await sleep(Math.max(0, frozenAt + FREEZE_MS - performance.now()))
    assert.ok(serving.proc.running, 'the server process is still running while the database is frozen')

    signalAll(frozen, 'SIGCONT')
    const thawedAt = performance.now()
    frozen = []
    let recoveredAt: number | undefined
    while (performance.now() - thawedAt < 15_000) {
      recoveredAt = outcomes.find((o) => o.start > thawedAt && o.status === 200)?.at
      if (recoveredAt !== undefined) break
      await sleep(10)
    }
    const recovery = recoveredAt === undefined ? Number.POSITIVE_INFINITY : recoveredAt - thawedAt
    await sleep(500)
    running = false
    await Promise.all(writers)
    assert.ok(serving.proc.running, 'the server process never exited')

    // Unacknowledged readings sent again with the same id: stored once, never twice.
    const acked = new Set(outcomes.filter((o) => o.status === 200).map((o) => o.id))
    const unacked = outcomes.filter((o) => o.status !== 200).map((o) => o.id)
    for (let i = 0; i < unacked.length; i += 8) {
      const retried = await Promise.all(unacked.slice(i, i + 8).map(post))
      for (const r of retried) assert.equal(r.status, 200, `retry of ${r.id}`)
    }
    check = await openDatabase({ databaseUrl: url, poolMax: 1 })
    const { rows } = await check.query<{ id: string; n: number }>(
      "SELECT client_reading_id AS id, count(*)::int AS n FROM readings WHERE client_reading_id LIKE 'frozen-%' GROUP BY 1",
    )
    const stored = new Map(rows.map((r) => [r.id, r.n]))
    const lost = [...acked].filter((id) => !stored.has(id)).length
    const duplicated = rows.filter((r) => r.n > 1).length

    const during = outcomes.filter((o) => o.start >= frozenAt && o.start < thawedAt)
    const latencies = during.map((o) => o.at - o.start)
    const unavailable = outcomes.filter((o) => o.status === 503)
    const other5xx = outcomes.filter(
      (o) => typeof o.status === 'number' && o.status >= 500 && o.status !== 503,
    )
    const hung = outcomes.filter((o) => o.status === 'network-error' || o.status === 'timeout')
    const others = outcomes.filter((o) => typeof o.status === 'number' && o.status !== 200 && o.status < 500)
    const fast = during.filter((o) => o.at - o.start < 100).length
    console.log(
      `# faults-postgres-frozen: frozen ${Math.round(thawedAt - frozenAt)} ms, requests ${outcomes.length} (${during.length} sent while frozen), acknowledged ${acked.size}, 503 ${unavailable.length}, other 5xx ${other5xx.length}, 4xx ${others.length}, ` +
        `hung/reset ${hung.length}, latency while frozen p50/p99/max ${Math.round(percentile(latencies, 50))}/${Math.round(percentile(latencies, 99))}/${Math.round(Math.max(0, ...latencies))} ms (${fast} under 100 ms), ` +
        `ready while frozen ${ready.status} in ${Math.round(ready.ms)} ms, token endpoint ${tokenDuring.status} in ${Math.round(tokenDuring.ms)} ms, ` +
        `served again ${Math.round(recovery)} ms after SIGCONT, lost ${lost}, duplicated ${duplicated}, ` +
        `own handle (threshold 2): ${directFailures.map((f) => `${f.reason} ${Math.round(f.ms)} ms`).join(', ')}`,
    )
    assert.deepEqual(
      other5xx.map((o) => o.status),
      [],
      'no 500: a frozen database is 503',
    )
    assert.deepEqual(
      others.map((o) => o.status),
      [],
      'no 4xx: a valid token is not refused because the database is frozen',
    )
    assert.equal(hung.length, 0, 'no request hangs or has its connection reset')
    assert.ok(during.length > 0 && unavailable.length > 0, 'the freeze was seen by the writers')
    for (const o of unavailable) {
      assert.equal(o.problem, true, '503 is problem+json')
      assert.ok(Number(o.retryAfter) >= 1, '503 carries Retry-After')
    }
    assert.ok(
      Math.max(...latencies) < BOUND_MS,
      `every request during the freeze answered within ${BOUND_MS} ms (slowest ${Math.round(Math.max(...latencies))} ms)`,
    )
    assert.ok(
      fast > during.length / 2,
      `once the circuit is open most requests are refused at once (${fast} of ${during.length} under 100 ms)`,
    )
    assert.equal(ready.status, 503, '/health/ready says 503 while the database is frozen')
    assert.ok(ready.ms < BOUND_MS, 'readiness answers within its own deadline')
    assert.equal(live.status, 200, 'liveness holds')
    assert.equal(tokenDuring.status, 503, 'the token endpoint answers 503, not 500')
    assert.ok(
      Number(tokenDuring.retryAfter) >= 1 && tokenDuring.text.includes('temporarily_unavailable'),
      'an OAuth-shaped temporarily_unavailable with Retry-After',
    )
    assert.ok(recovery < 2_000, `served again within 2 s of SIGCONT (took ${Math.round(recovery)} ms)`)
    assert.equal(lost, 0, 'no acknowledged reading lost')
    assert.equal(duplicated, 0, 'no reading stored twice')

    // The configured threshold: exactly two failures waited for the deadline; the third was refused by the open circuit at once.
    assert.deepEqual(
      directFailures.map((f) => f.reason === 'circuit-open'),
      [false, false, true],
      'the circuit opened after the configured two failures',
    )
    assert.ok(directFailures[2]!.ms < 50, 'the open circuit refuses at once')
  })

  test('[SRS-OPS-250] every session runs with the configured statement, lock and idle-in-transaction timeouts, and a statement or lock wait that hits one is answered as unavailable (503), not left waiting', async () => {
    const db = await openDatabase({
      databaseUrl: url,
      poolMax: 3,
      statementTimeoutMs: 1_500,
      lockTimeoutMs: 400,
      idleInTransactionTimeoutMs: 4_000,
    })
    try {
      const settings = async (q: { query: Database['query'] }) =>
        (
          await q.query<{ s: string; l: string; i: string }>(
            "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i",
          )
        ).rows[0]
      assert.deepEqual(await settings(db), { s: '1500ms', l: '400ms', i: '4s' }, 'a pooled session')
      assert.deepEqual(
        await db.transaction((tx) => settings(tx)),
        { s: '1500ms', l: '400ms', i: '4s' },
        "a transaction's session",
      )

      const t0 = performance.now()
      const slow = await db.query('SELECT pg_sleep(10)').then(
        () => undefined,
        (e: unknown) => e,
      )
      const slowMs = performance.now() - t0
      assert.ok(
        slow instanceof DatabaseUnavailableError && slow.reason === '57014',
        'statement_timeout ends a long statement (57014) as unavailable',
      )
      assert.ok(slowMs < 4_000, `after about the statement timeout (${Math.round(slowMs)} ms)`)

      await db.exec('CREATE TABLE IF NOT EXISTS lock_probe (id int PRIMARY KEY, n int)')
      await db.query('INSERT INTO lock_probe VALUES (1, 0) ON CONFLICT DO NOTHING')
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      let locked!: () => void
      const isLocked = new Promise<void>((resolve) => (locked = resolve))
      const holder = db.transaction(async (tx) => {
        await tx.query('UPDATE lock_probe SET n = n + 1 WHERE id = 1')
        locked()
        await held
      })
      await isLocked
      const t1 = performance.now()
      const waited = await db.query('UPDATE lock_probe SET n = n + 1 WHERE id = 1').then(
        () => undefined,
        (e: unknown) => e,
      )
      const waitedMs = performance.now() - t1
      release()
      await holder
      assert.ok(
        waited instanceof DatabaseUnavailableError && waited.reason === '55P03',
        'lock_timeout ends a lock wait (55P03) as unavailable',
      )
      assert.ok(
        waitedMs < 1_400,
        `after about the lock timeout, not the statement timeout (${Math.round(waitedMs)} ms)`,
      )
      console.log(
        `# faults-postgres-timeouts: statement timeout hit after ${Math.round(slowMs)} ms (1500 configured), lock timeout after ${Math.round(waitedMs)} ms (400 configured)`,
      )
    } finally {
      await db.close()
    }
  })

  test('[SRS-OPS-256] a production instance that finds a live instance with another PUBLIC_URL on its database refuses to start (exit 78) naming it; outside production it warns and serves', async () => {
    const registryUrl = await cluster.createDatabase('vigil_registry')
    const db = await openDatabase({ databaseUrl: registryUrl, poolMax: 2 })
    await migrate(db)
    const other = await registerInstance(db, { version: 'test', publicUrl: 'https://a.vigil.example' })
    assert.ok(other)
    try {
      const env = childEnv(base, {
        DATABASE_URL: registryUrl,
        ENCRYPTION_KEYRING: TEST_KEYRING,
        COOKIE_SECRET: TEST_COOKIE_SECRET,
        METRICS_TOKEN: 'm'.repeat(48),
        SMTP_URL: 'smtp://127.0.0.1:2525',
        PUBLIC_URL: 'https://b.vigil.example',
        LOG_LEVEL: 'info',
        AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
        ANOMALY_INTERVAL_SECONDS: '0',
        RETENTION_INTERVAL_SECONDS: '0',
      })
      const production = spawnServer({ ...env, NODE_ENV: 'production' })
      const exit = await production.waitForExit()
      assert.equal(exit.code, 78, `exit 78 (EX_CONFIG); stderr: ${production.stderr.slice(0, 400)}`)
      assert.match(
        production.stderr,
        /another live instance shares this database with PUBLIC_URL https:\/\/a\.vigil\.example/,
      )

      await other.heartbeat() // still live (seen within 30 s) for the second start
      const development = spawnServer({ ...env, NODE_ENV: 'development', PORT: '0' })
      try {
        await development.waitForLog('"vigil is serving"', (e) => e.msg === 'vigil is serving')
        assert.ok(
          development
            .entries()
            .some((e) => e.level === 40 && /another live instance shares this database/.test(String(e.msg))),
          'a warning outside production',
        )
      } finally {
        await development.kill()
      }
    } finally {
      await other.stop()
      await db.close()
    }
  })
})
