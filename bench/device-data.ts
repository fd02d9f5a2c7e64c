// Device-data ingestion benchmark (issue 5; docs/performance.md). Starts the real server
// (bench/server.ts: what src/main.ts does, plus the baseline route) as a child process — on
// PGlite in a temporary DATA_DIR, or on PostgreSQL in a database created for the run (and dropped
// after) when DATABASE_URL is set — gets each device a real access token from the token endpoint
// (client credentials, client_secret_basic), and drives it over HTTP from this process. For each
// case — v2 single reading, v2 batches of 100 and 1,000, v1 single reading — it prints one JSON
// line with requests and readings per second at the maximum (closed loop, fixed concurrency),
// p50/p99 at that load and at half of it (paced), and ratios against baselines measured in the
// same run, case by case, one right after the other:
//   (a) a bare route in the same server process: same body schema, same row, same INSERT; no
//       authentication, policy, encryption, audit, request log or metrics;
//   (b) the same multi-row INSERT (repository.insertReadings) straight through the driver, no
//       HTTP: `pg` on the run's database, or an in-process PGlite in its own directory (the
//       server's PGlite holds its directory's lock).
//
// Environment (defaults keep a PostgreSQL run near two minutes on 2 cores):
//   BENCH_CONCURRENCY 16  BENCH_SECONDS 6  BENCH_WARMUP_SECONDS 2  BENCH_HALF_SECONDS 6
//   BENCH_DEVICES 16  BENCH_POOL 10 (DATABASE_POOL_MAX of the server and of baseline b)
//   BENCH_CASES v2-single,v2-batch-100,v2-batch-1000,v1-single  BENCH_LOG_LEVEL info
//   BENCH_COUNT_QUERIES=1 (the server counts its statements; reported in the last line)
//   BENCH_SERVER_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")  BENCH_OUT (also append the JSON lines to this file)

import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { insertReadings, type ReadingRow } from '../src/modules/device-data/repository.ts'
import { migrate, openDatabase, type Database } from '../src/platform/db/index.ts'
import { Client, closedLoop, paced, type LoadResult, type Request } from './load.ts'
import type { BenchDevice, ServerReady } from './server.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

export interface DeviceDataBenchOptions {
  readonly databaseUrl: string | undefined
  readonly concurrency: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly halfSeconds: number
  readonly devices: number
  readonly poolMax: number
  readonly cases: readonly CaseName[]
  readonly logLevel: string
  readonly serverNodeOptions: string
  readonly out: string | undefined
}

export const CASES = ['v2-single', 'v2-batch-100', 'v2-batch-1000', 'v1-single'] as const
export type CaseName = (typeof CASES)[number]

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceDataBenchOptions {
  const num = (name: string, fallback: number) => {
    const v = env[name]
    if (v === undefined || v === '') return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number`)
    return n
  }
  const cases = (env.BENCH_CASES ?? CASES.join(','))
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
  for (const c of cases) if (!(CASES as readonly string[]).includes(c)) throw new Error(`BENCH_CASES: unknown case ${c} (known: ${CASES.join(', ')})`)
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    concurrency: num('BENCH_CONCURRENCY', 16),
    seconds: num('BENCH_SECONDS', 6),
    warmupSeconds: num('BENCH_WARMUP_SECONDS', 2),
    halfSeconds: num('BENCH_HALF_SECONDS', 6),
    devices: num('BENCH_DEVICES', 16),
    poolMax: num('BENCH_POOL', 10),
    cases: cases as CaseName[],
    logLevel: env.BENCH_LOG_LEVEL ?? 'info',
    serverNodeOptions: env.BENCH_SERVER_NODE_OPTIONS ?? '',
    out: env.BENCH_OUT || undefined,
  }
}

const log = (message: string) => process.stderr.write(`[bench device-data] ${message}\n`)

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      s.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

// --- the run's PostgreSQL database ------------------------------------------------------------

async function adminQuery(baseUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: baseUrl })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

async function createRunDatabase(baseUrl: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `vigil_bench_${randomBytes(5).toString('hex')}`
  await adminQuery(baseUrl, `CREATE DATABASE ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

// --- CPU accounting (Linux /proc; absent elsewhere) -------------------------------------------

const TICK_MS = 10 // USER_HZ is 100 on Linux

function procCpuMs(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS // utime, stime
  } catch {
    return NaN
  }
}

/** CPU time so far of the server process, of the PostgreSQL backends serving `database`, and of this process. */
function cpuSnapshot(serverPid: number, database: string | undefined): { server: number; postgres: Map<string, number>; runner: number } {
  const postgres = new Map<string, number>()
  if (database) {
    try {
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue
        let cmd: string
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        } catch {
          continue
        }
        if (cmd.startsWith('postgres: ') && cmd.includes(` ${database} `)) postgres.set(pid, procCpuMs(pid))
      }
    } catch {
      // not Linux
    }
  }
  const own = process.cpuUsage()
  return { server: procCpuMs(serverPid), postgres, runner: (own.user + own.system) / 1000 }
}

/** CPU milliseconds per request between two snapshots, by process. */
function cpuPerRequest(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, requests: number) {
  let pgMs = 0
  for (const [pid, ms] of after.postgres) pgMs += ms - (before.postgres.get(pid) ?? 0)
  const per = (ms: number) => (Number.isFinite(ms) && requests > 0 ? Number((ms / requests).toFixed(3)) : null)
  return { serverMs: per(after.server - before.server), ...(after.postgres.size > 0 ? { postgresMs: per(pgMs) } : {}), runnerMs: per(after.runner - before.runner) }
}

// --- the server process ---------------------------------------------------------------------

interface RunningServer {
  readonly ready: ServerReady
  readonly child: ChildProcess
  stop(): Promise<void>
}

async function startServer(options: DeviceDataBenchOptions, env: Record<string, string>): Promise<RunningServer> {
  const child = fork(path.join(ROOT, 'bench/server.ts'), [], {
    cwd: ROOT,
    env,
    execArgv: ['--import', 'tsx', ...options.serverNodeOptions.split(/\s+/).filter(Boolean)],
    // The server's JSON log goes nowhere (it is written all the same, as in production).
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bench server did not start in 180 s\n${stderr}`)), 180_000)
    child.on('message', (m: ServerReady) => {
      if (m?.type === 'ready') {
        clearTimeout(timer)
        resolve(m)
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the bench server exited (${code ?? signal}) before it was ready\n${stderr}`))
    })
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    ready,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000)
      await exited
      clearTimeout(t)
    },
  }
}

async function deviceToken(baseUrl: string, device: BenchDevice): Promise<string> {
  const meta = (await (await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint: string }
  const basic = Buffer.from(`${encodeURIComponent(device.clientId)}:${encodeURIComponent(device.clientSecret)}`).toString('base64')
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'device-data:write' }),
  })
  const body = (await res.json()) as { access_token?: string; error?: string }
  if (!res.ok || !body.access_token) throw new Error(`token endpoint answered ${res.status} ${body.error ?? ''} for ${device.clientId}`)
  return body.access_token
}

// --- request bodies -------------------------------------------------------------------------

/** Every reading of the run gets its own client id and its own millisecond (v1 has no id). */
class Readings {
  private n = 0
  private readonly base = Date.now() - 60_000
  private readonly tag = randomBytes(3).toString('hex')
  next(): { id: string; time: string; value: number; sequence: number } {
    const n = this.n++
    return { id: `bench-${this.tag}-${n}`, time: new Date(this.base - n).toISOString(), value: 70 + (n % 110), sequence: n }
  }
}

function v2Body(readings: Readings, size: number): string {
  const items = []
  for (let i = 0; i < size; i++) {
    const r = readings.next()
    items.push({ id: r.id, code: '2339-0', value: r.value, unit: 'mg/dL', effectiveDateTime: r.time, sequence: r.sequence })
  }
  return JSON.stringify({ readings: items })
}

function v1Body(readings: Readings): string {
  const r = readings.next()
  return JSON.stringify({ type: 'glucose', value: r.value, unit: 'mg/dL', time: r.time })
}

// --- baseline (b): the driver alone ---------------------------------------------------------

async function driverBaseline(db: Database, target: { deviceId: string; patientId: string }, readings: Readings, size: number, options: DeviceDataBenchOptions): Promise<{ rowsPerSecond: number; statementsPerSecond: number }> {
  const rows = (): ReadingRow[] => {
    const now = new Date()
    return Array.from({ length: size }, () => {
      const r = readings.next()
      return {
        id: randomUUID(),
        patientId: target.patientId,
        deviceId: target.deviceId,
        code: '2339-0',
        category: 'laboratory',
        effectiveAt: new Date(r.time),
        offsetMinutes: 0,
        receivedAt: now,
        clientReadingId: `driver-${r.id}`,
        sequence: r.sequence,
        valueSealed: JSON.stringify({ value: r.value, unit: 'mg/dL' }),
        contentIndex: 'bench-content-index-placeholder-0000000000',
        source: 'bench-driver',
      }
    })
  }
  const run = async (seconds: number) => {
    let statements = 0
    const started = performance.now()
    const deadline = started + seconds * 1000
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < deadline) {
          const inserted = await insertReadings(db, rows())
          if (inserted.size !== size) throw new Error(`baseline (b) stored ${inserted.size} of ${size}`)
          statements++
        }
      }),
    )
    return { statements, seconds: (performance.now() - started) / 1000 }
  }
  await run(options.warmupSeconds)
  const r = await run(options.seconds)
  return { rowsPerSecond: (r.statements * size) / r.seconds, statementsPerSecond: r.statements / r.seconds }
}

/** The database baseline (b) writes to: the run's PostgreSQL database, or a PGlite of its own. */
async function openDriverDatabase(runDatabaseUrl: string | undefined, poolMax: number, device: BenchDevice): Promise<{ db: Database; target: { deviceId: string; patientId: string }; close: () => Promise<void> }> {
  if (runDatabaseUrl) {
    const db = await openDatabase({ databaseUrl: runDatabaseUrl, poolMax })
    return { db, target: device, close: () => db.close() }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-driver-'))
  const db = await openDatabase({ pgliteDir: dir })
  await migrate(db)
  const target = { patientId: randomUUID(), deviceId: randomUUID() }
  await db.query('INSERT INTO patients (id) VALUES ($1)', [target.patientId])
  await db.query("INSERT INTO devices (id, manufacturer, model, serial, type) VALUES ($1, 'Vigil Bench', 'Glucometer', 'DRIVER-1', 'glucometer')", [target.deviceId])
  return {
    db,
    target,
    close: async () => {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// --- the run --------------------------------------------------------------------------------

const round = (n: number, digits = 0) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null)
const summary = (r: LoadResult, perRequest: number) => ({
  requestsPerSecond: round(r.requestsPerSecond),
  readingsPerSecond: round(r.requestsPerSecond * perRequest),
  p50Ms: round(r.p50Ms, 2),
  p99Ms: round(r.p99Ms, 2),
  maxMs: round(r.maxMs, 2),
  requests: r.requests,
  errors: r.errors,
  ...(r.errors > 0 ? { unexpected: r.unexpected, sampleError: r.sampleError } : {}),
})

export async function runDeviceDataBench(options: DeviceDataBenchOptions): Promise<{ ok: boolean }> {
  const emit = (line: Record<string, unknown>) => {
    const text = JSON.stringify({ bench: 'device-data', ...line })
    process.stdout.write(`${text}\n`)
    if (options.out) appendFileSync(options.out, `${text}\n`)
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'))
  const runDb = options.databaseUrl ? await createRunDatabase(options.databaseUrl) : undefined
  let server: RunningServer | undefined
  let driver: Awaited<ReturnType<typeof openDriverDatabase>> | undefined
  let ok = true
  try {
    const port = await freePort()
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.homedir(),
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: options.logLevel,
      DATABASE_POOL_MAX: String(options.poolMax),
      // The benchmark's own traffic must not be throttled: one address, a few devices, many readings.
      RATE_LIMIT_PER_MINUTE: '0',
      DEVICE_RATE_LIMIT_PER_MINUTE: '0',
      DEVICE_DAILY_QUOTA: '100000000',
      ACCESS_TOKEN_TTL_SECONDS: '3600',
      BENCH_DEVICES: String(options.devices),
      ...(process.env.BENCH_COUNT_QUERIES === '1' ? { BENCH_COUNT_QUERIES: '1' } : {}),
      ...(runDb ? { DATABASE_URL: runDb.url } : {}),
    }
    log(`starting the server on ${runDb ? 'PostgreSQL (a database for this run)' : 'PGlite (temporary DATA_DIR)'} with ${options.devices} devices`)
    const startedAt = performance.now()
    server = await startServer(options, env)
    const { ready } = server
    log(`server ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s; getting device tokens`)
    const baseUrl = `http://127.0.0.1:${ready.port}`
    const tokens = await Promise.all(ready.devices.map((d) => deviceToken(baseUrl, d)))
    const auth = (i: number) => ({ authorization: `Bearer ${tokens[i % tokens.length]}` })

    const cpus = os.cpus()
    emit({
      kind: 'meta',
      engine: ready.engine,
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      concurrency: options.concurrency,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      halfLoadSeconds: options.halfSeconds,
      devices: ready.devices.length,
      poolMax: ready.poolMax,
      logLevel: options.logLevel,
      date: new Date().toISOString(),
    })

    driver = await openDriverDatabase(runDb?.url, options.poolMax, ready.devices[0] as BenchDevice)
    const secured = new Client(ready.port, options.concurrency)
    const pacedClient = new Client(ready.port, 256)
    const bare = new Client(ready.baselinePort, options.concurrency)
    const readings = new Readings()
    // Readings the server acknowledged, by contract, to compare with what it stored.
    const acknowledged: Record<string, number> = { v1: 0, v2: 0, 'bench-v1': 0, 'bench-v2': 0 }
    const count = (source: string, r: LoadResult, size: number) => (acknowledged[source] = (acknowledged[source] ?? 0) + (r.requests - r.errors) * size)

    for (const name of options.cases) {
      const size = name === 'v2-batch-100' ? 100 : name === 'v2-batch-1000' ? 1000 : 1
      const v1 = name === 'v1-single'
      const securedReq = (i: number): Request =>
        v1 ? { path: '/api/v1/device-data', body: v1Body(readings), headers: auth(i) } : { path: '/api/v2/device-data', body: v2Body(readings, size), headers: auth(i) }
      const baselineReq = (): Request => (v1 ? { path: '/baseline/v1', body: v1Body(readings) } : { path: '/baseline/v2', body: v2Body(readings, size) })
      const securedOk = v1 ? [201] : [200]
      const baselineOk = v1 ? [201] : [200]
      const load = { concurrency: options.concurrency, seconds: options.seconds }

      log(`${name}: baseline (b), driver`)
      const b = await driverBaseline(driver.db, driver.target, readings, size, options)
      log(`${name}: baseline (a), bare route`)
      const source = v1 ? 'v1' : 'v2'
      count(`bench-${source}`, await closedLoop(bare, { ...load, seconds: options.warmupSeconds, ok: baselineOk, make: baselineReq }), size)
      const serverPid = server.child.pid as number
      const cpuA0 = cpuSnapshot(serverPid, runDb?.name)
      const a = await closedLoop(bare, { ...load, ok: baselineOk, make: baselineReq })
      const cpuA = cpuPerRequest(cpuA0, cpuSnapshot(serverPid, runDb?.name), a.requests)
      count(`bench-${source}`, a, size)
      log(`${name}: secured, maximum`)
      count(source, await closedLoop(secured, { ...load, seconds: options.warmupSeconds, ok: securedOk, make: securedReq }), size)
      const cpuS0 = cpuSnapshot(serverPid, runDb?.name)
      const max = await closedLoop(secured, { ...load, ok: securedOk, make: securedReq })
      const cpuS = cpuPerRequest(cpuS0, cpuSnapshot(serverPid, runDb?.name), max.requests)
      count(source, max, size)
      const rate = max.requestsPerSecond / 2
      log(`${name}: secured, paced at half load (${rate.toFixed(0)} requests/s)`)
      const half = await paced(pacedClient, { rate, seconds: options.halfSeconds, ok: securedOk, make: securedReq })
      count(source, half, size)

      const ratioToA = (max.requestsPerSecond * size) / (a.requestsPerSecond * size)
      const ratioToB = (max.requestsPerSecond * size) / b.rowsPerSecond
      const goals: Record<string, unknown> = {}
      if (name === 'v2-single') {
        goals.throughputAtLeastHalfOfA = { target: 0.5, actual: round(ratioToA, 3), met: ratioToA >= 0.5 }
        goals.p99AtHalfLoadAtMost50Ms = { target: 50, actual: round(half.p99Ms, 2), met: half.p99Ms <= 50 }
      }
      if (name === 'v2-batch-1000') goals.rowsAtLeast40PercentOfB = { target: 0.4, actual: round(ratioToB, 3), met: ratioToB >= 0.4 }
      const errors = max.errors + half.errors + a.errors
      if (errors > 0) ok = false
      emit({
        kind: 'case',
        engine: ready.engine,
        case: name,
        readingsPerRequest: size,
        concurrency: options.concurrency,
        secured: { ...summary(max, size), cpuPerRequest: cpuS },
        halfLoad: { targetRequestsPerSecond: round(rate), ...summary(half, size) },
        baselineA: { ...summary(a, size), cpuPerRequest: cpuA },
        baselineB: { rowsPerSecond: round(b.rowsPerSecond), statementsPerSecond: round(b.statementsPerSecond), rowsPerStatement: size, concurrency: options.concurrency },
        ratioToA: round(ratioToA, 3),
        ratioToB: round(ratioToB, 3),
        ...(Object.keys(goals).length > 0 ? { goals } : {}),
      })
    }

    // What the server stored, by contract: every acknowledged reading is there.
    const stats = (await (await fetch(`http://127.0.0.1:${ready.baselinePort}/baseline/stats`)).json()) as { readings: Record<string, number>; auditEntries: number; queryCounts?: unknown }
    const missing = Object.entries(acknowledged).filter(([source, n]) => (stats.readings[source] ?? 0) < n)
    if (missing.length > 0) ok = false
    emit({ kind: 'stored', engine: ready.engine, acknowledged, stored: stats.readings, auditEntries: stats.auditEntries, everyAcknowledgedReadingStored: missing.length === 0, ...(stats.queryCounts ? { queryCounts: stats.queryCounts } : {}) })
    secured.close()
    pacedClient.close()
    bare.close()
  } finally {
    await driver?.close().catch((err: unknown) => log(`closing baseline (b)'s database: ${String(err)}`))
    await server?.stop()
    if (runDb) await runDb.drop().catch((err: unknown) => log(`dropping the run's database: ${String(err)}`))
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { ok }
}
