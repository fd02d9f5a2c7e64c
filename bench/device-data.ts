// Device-data benchmark (issues 5 and 17; docs/performance.md). Starts the real server
// (bench/server.ts: what src/main.ts does, plus the baseline route and the reads loader) as a child
// process — on PGlite in a temporary DATA_DIR, or on PostgreSQL in a database created for the run
// (and dropped after) when DATABASE_URL is set — gets each device a real access token from the
// token endpoint (client credentials, client_secret_basic), and drives it over HTTP from this
// process. Two phases, each with a server and a database of its own:
//
// 1. Ingestion — v2 single reading, v2 batches of 100 and 1,000, v1 single reading: one JSON line
//    each with requests and readings per second at the maximum (closed loop, fixed concurrency),
//    p50/p99 at that load and at half of it (paced), and ratios against baselines measured in the
//    same run, case by case, one right after the other:
//      (a) a bare route in the same server process: same body schema, same row, same INSERT; no
//          authentication, policy, encryption, audit, request log or metrics;
//      (b) the same multi-row INSERT (repository.insertReadings) straight through the driver, no
//          HTTP: `pg` on the run's database, or an in-process PGlite in its own directory (the
//          server's PGlite holds its directory's lock).
//    And `token`: client-credentials grants at the token endpoint, against /health/live.
// 2. Reads — `fhir-search` (Observation?patient=&code=&date=&_count=50 over the small set) and
//    `reads-at-scale` (GET /api/v2/device-data for one patient over 90 days, and the same FHIR
//    search, at the small scale and at BENCH_READINGS), over readings loaded through the
//    repository by bench/loader.ts in the server process, read as a clinician whose care team
//    holds the first BENCH_CARE_TEAM patients loaded; each against /health/live. Reads at scale
//    puts the small set on a second server with a database of its own and measures the two scales
//    in BENCH_READ_ROUNDS rounds that alternate between them (small, large, then large, small, …),
//    so that the ratio large ÷ small compares figures from the same minutes.
// Then one `goal` line per goal of issue 17: its checks (target, figure, met) and whether the run's
// conditions are the goal's (`applies`).
//
// Environment (the defaults keep a PostgreSQL run of the default cases near six minutes on 2 cores):
//   BENCH_CONCURRENCY 16  BENCH_SECONDS 6  BENCH_WARMUP_SECONDS 2  BENCH_HALF_SECONDS 30 (a p99 over
//   6 s mostly missed stalls that come every tens of seconds: docs/performance.md, run 17)
//   BENCH_DEVICES 16  BENCH_POOL 10 (DATABASE_POOL_MAX of the server and of baseline b)
//   BENCH_CASES v2-single,v2-batch-100,v2-batch-1000,v1-single,token,fhir-search (`all` adds reads-at-scale)
//   BENCH_READINGS 10000000  BENCH_READINGS_SMALL min(100000, BENCH_READINGS / 10)
//   BENCH_PATIENTS BENCH_READINGS / 1000  BENCH_READINGS_DAYS 365  BENCH_CARE_TEAM 10  BENCH_READ_ROUNDS 3
//   BENCH_LOG_LEVEL info  BENCH_COUNT_QUERIES=1 (the server counts its statements; reported in each phase's `stored` line)
//   BENCH_SERVER_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")  BENCH_OUT (also append the JSON lines to this file)
//   BENCH_TRACE_DIR (the runner's and the servers' stall traces: bench/trace.ts)  BENCH_TRACE_SLOW_MS 40

import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { insertReadings, type ReadingRow } from '../src/modules/device-data/repository.ts'
import { migrate, openDatabase, type Database } from '../src/platform/db/index.ts'
import { Client, closedLoop, combine, paced, type LoadResult, type Request } from './load.ts'
import type { LoadedReply, LoadFailed, LoadProgress, LoadRequest } from './loader.ts'
import type { BenchDevice } from './server.ts'
import {
  addCpu,
  check,
  cpuPerRequest,
  cpuSnapshot,
  cpuUsed,
  createRunDatabase,
  deviceToken,
  emitter,
  envNumbers,
  goalLine,
  logger,
  perRequestCpu,
  round,
  startServer,
  summary,
  type Check,
  type CpuUsed,
  type Engine,
  type Emit,
  type RunningServer,
} from './support.ts'

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
  /** Reads at scale: the large and small scales (readings loaded), patients, the loaded span, the care team queried. */
  readonly readings: number
  readonly readingsSmall: number
  readonly patients: number
  readonly readingsDays: number
  readonly careTeam: number
  /** Reads at scale: rounds of the maximum and of the half load, alternating between the two scales. */
  readonly readRounds: number
}

const INGEST_CASES = ['v2-single', 'v2-batch-100', 'v2-batch-1000', 'v1-single'] as const
export const CASES = [...INGEST_CASES, 'token', 'fhir-search', 'reads-at-scale'] as const
export type CaseName = (typeof CASES)[number]
/** reads-at-scale loads BENCH_READINGS readings (10 M by default): named, or BENCH_CASES=all, not by default. */
export const DEFAULT_CASES: readonly CaseName[] = [...INGEST_CASES, 'token', 'fhir-search']

/**
 * Server settings the bench passes on when set, to measure the code without a default:
 * INGEST_GROUP_COMMIT=false (ADR-0036), DATABASE_PREPARED_STATEMENTS=false (ADR-0037),
 * DATABASE_POOL_MIN=0, a pool that closes idle connections (ADR-0039), ANOMALY_INTERVAL_SECONDS=0,
 * no anomaly scan (every 60 s by default).
 */
const PASSED_TO_SERVER = [
  'INGEST_GROUP_COMMIT',
  'DATABASE_PREPARED_STATEMENTS',
  'DATABASE_POOL_MIN',
  'ANOMALY_INTERVAL_SECONDS',
] as const

/** The scale goal 3 and goal 5 are defined at (issue 17). */
const GOAL_READINGS = 10_000_000
const GOAL_PATIENTS = 10_000
const READ_WINDOW_DAYS = 90

/** Why reads at scale (and its loader) refuse PGlite. */
export const PGLITE_REFUSED =
  'reads at scale loads BENCH_READINGS readings (10 million by default) through the repository and runs on PostgreSQL only: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres); PGlite would hold the whole load in the server process'

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceDataBenchOptions {
  const { num, int } = envNumbers(env)
  const cases =
    env.BENCH_CASES === 'all'
      ? [...CASES]
      : (env.BENCH_CASES || DEFAULT_CASES.join(','))
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean)
  for (const c of cases)
    if (!(CASES as readonly string[]).includes(c))
      throw new Error(`BENCH_CASES: unknown case ${c} (known: ${CASES.join(', ')}, or all)`)
  const readings = int('BENCH_READINGS', GOAL_READINGS)
  const readingsSmall = int('BENCH_READINGS_SMALL', Math.max(1, Math.min(100_000, Math.floor(readings / 10))))
  if (readingsSmall >= readings)
    throw new Error('BENCH_READINGS_SMALL: expected fewer readings than BENCH_READINGS')
  const patients = int('BENCH_PATIENTS', Math.max(1, Math.ceil(readings / 1000)))
  if (patients > readings) throw new Error('BENCH_PATIENTS: expected at most BENCH_READINGS patients')
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    concurrency: num('BENCH_CONCURRENCY', 16),
    seconds: num('BENCH_SECONDS', 6),
    warmupSeconds: num('BENCH_WARMUP_SECONDS', 2),
    halfSeconds: num('BENCH_HALF_SECONDS', 30),
    devices: num('BENCH_DEVICES', 16),
    poolMax: num('BENCH_POOL', 10),
    cases: cases as CaseName[],
    logLevel: env.BENCH_LOG_LEVEL ?? 'info',
    serverNodeOptions: env.BENCH_SERVER_NODE_OPTIONS ?? '',
    out: env.BENCH_OUT || undefined,
    readings,
    readingsSmall,
    patients,
    readingsDays: int('BENCH_READINGS_DAYS', 365),
    careTeam: int('BENCH_CARE_TEAM', 10),
    readRounds: int('BENCH_READ_ROUNDS', 3),
  }
}

const log = logger('device-data')

// --- request bodies -------------------------------------------------------------------------

/** Every reading of the run gets its own client id and its own millisecond (v1 has no id). */
class Readings {
  private n = 0
  private readonly base = Date.now() - 60_000
  private readonly tag = randomBytes(3).toString('hex')
  next(): { id: string; time: string; value: number; sequence: number } {
    const n = this.n++
    return {
      id: `bench-${this.tag}-${n}`,
      time: new Date(this.base - n).toISOString(),
      value: 70 + (n % 110),
      sequence: n,
    }
  }
}

function v2Body(readings: Readings, size: number): string {
  const items = []
  for (let i = 0; i < size; i++) {
    const r = readings.next()
    items.push({
      id: r.id,
      code: '2339-0',
      value: r.value,
      unit: 'mg/dL',
      effectiveDateTime: r.time,
      sequence: r.sequence,
    })
  }
  return JSON.stringify({ readings: items })
}

function v1Body(readings: Readings): string {
  const r = readings.next()
  return JSON.stringify({ type: 'glucose', value: r.value, unit: 'mg/dL', time: r.time })
}

// --- baseline (b): the driver alone ---------------------------------------------------------

async function driverBaseline(
  db: Database,
  target: { deviceId: string; patientId: string },
  readings: Readings,
  size: number,
  options: DeviceDataBenchOptions,
): Promise<{ rowsPerSecond: number; statementsPerSecond: number }> {
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
async function openDriverDatabase(
  runDatabaseUrl: string | undefined,
  poolMax: number,
  device: BenchDevice,
): Promise<{ db: Database; target: { deviceId: string; patientId: string }; close: () => Promise<void> }> {
  if (runDatabaseUrl) {
    const db = await openDatabase({ databaseUrl: runDatabaseUrl, poolMax })
    return { db, target: device, close: () => db.close() }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-driver-'))
  const db = await openDatabase({ pgliteDir: dir })
  await migrate(db)
  const target = { patientId: randomUUID(), deviceId: randomUUID() }
  await db.query('INSERT INTO patients (id) VALUES ($1)', [target.patientId])
  await db.query(
    "INSERT INTO devices (id, manufacturer, model, serial, type) VALUES ($1, 'Vigil Bench', 'Glucometer', 'DRIVER-1', 'glucometer')",
    [target.deviceId],
  )
  return {
    db,
    target,
    close: async () => {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// --- the goals of issue 17: one line each, with its target, the figure and met ------------------

const isIngestCase = (name: CaseName): name is (typeof INGEST_CASES)[number] =>
  (INGEST_CASES as readonly string[]).includes(name)
const READ_QUERIES = ['device-data-90d', 'fhir-search'] as const
type ReadQuery = (typeof READ_QUERIES)[number]

interface GoalFigures {
  single?: { ratioToA: number; p99AtHalfLoadMs: number }
  batch1000?: { ratioToB: number }
  reads?: {
    readings: number
    patients: number
    queries: Partial<
      Record<
        ReadQuery,
        { throughputRatioLargeToSmall: number; p99AtHalfLoadMsLarge: number; p99AtHalfLoadMsSmall: number }
      >
    >
  }
  token?: { ratioToHealthLive: number; grantsPerSecond: number }
  fhirSearch?: {
    readings: number
    patients: number
    requestsPerCoreSecond: number
    p99AtHalfLoadMs: number
    ratioToHealthLive: number
    requestsPerSecond: number
  }
}

/**
 * One `goal` line per goal of issue 17. `met` is every check's figure against its target (null when
 * the run did not measure it: BENCH_CASES). `applies` says whether the run's conditions are the
 * goal's own — PostgreSQL (PGlite's figures are reported, not held to the goals) and, for goals 3
 * and 5, the 10-million-reading set across 10,000 patients — and `why` when they are not.
 */
export function goalLines(engine: Engine, f: GoalFigures): Array<Record<string, unknown>> {
  const postgres = engine === 'postgres' ? undefined : 'measured on PGlite; the goals are for PostgreSQL'
  const atScale = (set: { readings: number; patients: number } | undefined) =>
    postgres ??
    (set && (set.readings < GOAL_READINGS || set.patients < GOAL_PATIENTS)
      ? `measured over ${set.readings.toLocaleString('en')} readings across ${set.patients.toLocaleString('en')} patients; the goal is for 10,000,000 across 10,000`
      : undefined)
  const line = (
    goal: number,
    title: string,
    checks: Check[],
    why: string | undefined,
    reported: Record<string, unknown> = {},
  ) =>
    goalLine({
      engine,
      goal,
      title,
      checks,
      why,
      notMeasured: 'not measured in this run (BENCH_CASES)',
      reported,
    })
  const reads = f.reads?.queries ?? {}
  return [
    line(
      1,
      'v2 single reading: throughput at least 0.50 of the bare route (a), p99 at most 50 ms at half the maximum rate',
      [
        check('ratioToA', '>=', 0.5, f.single?.ratioToA),
        check('p99AtHalfLoadMs', '<=', 50, f.single?.p99AtHalfLoadMs, 2),
      ],
      postgres,
    ),
    line(
      2,
      'batch of 1,000: readings/s at least 0.60 of the driver multi-row insert (b) of the same rows',
      [check('ratioToB', '>=', 0.6, f.batch1000?.ratioToB)],
      postgres,
    ),
    line(
      3,
      'reads at scale (10 M readings, 10,000 patients): GET /api/v2/device-data (one patient, 90 days) and the FHIR Observation search, each p99 at most 50 ms at half load and throughput at 10 M at least 0.8 of that at 100 k',
      READ_QUERIES.flatMap((q) => [
        check(`${q}.p99AtHalfLoadMs`, '<=', 50, reads[q]?.p99AtHalfLoadMsLarge, 2),
        check(`${q}.throughputRatioLargeToSmall`, '>=', 0.8, reads[q]?.throughputRatioLargeToSmall),
      ]),
      atScale(f.reads),
    ),
    line(
      4,
      'token endpoint: client-credentials grants/s at least 0.25 of /health/live in the same run',
      [check('ratioToHealthLive', '>=', 0.25, f.token?.ratioToHealthLive)],
      postgres,
      f.token ? { grantsPerSecond: Math.round(f.token.grantsPerSecond) } : {},
    ),
    line(
      5,
      'FHIR search Observation?patient=&code=&date=&_count=50 on the 10 M set: at least 300 requests/s per core (1000 / server + PostgreSQL CPU ms per request), p99 at most 50 ms at half load; ratio to /health/live reported',
      [
        check('requestsPerCoreSecond', '>=', 300, f.fhirSearch?.requestsPerCoreSecond, 0),
        check('p99AtHalfLoadMs', '<=', 50, f.fhirSearch?.p99AtHalfLoadMs, 2),
      ],
      atScale(f.fhirSearch),
      f.fhirSearch
        ? {
            ratioToHealthLive: Number(f.fhirSearch.ratioToHealthLive.toFixed(3)),
            requestsPerSecond: Math.round(f.fhirSearch.requestsPerSecond),
          }
        : {},
    ),
  ]
}

// --- the run --------------------------------------------------------------------------------

/** BENCH=reads: the reads-at-scale case alone (whatever BENCH_CASES says), the other variables as for device-data. */
export function readsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceDataBenchOptions {
  return optionsFromEnv({ ...env, BENCH_CASES: 'reads-at-scale' })
}

/** BENCH=reads: reads at scale on PostgreSQL (PGlite refused, PGLITE_REFUSED), with the lines of goals 3 and 5. */
export function runReadsBench(options: DeviceDataBenchOptions): Promise<{ ok: boolean }> {
  return runDeviceDataBench({ ...options, cases: ['reads-at-scale'] }, [3, 5])
}

/**
 * Two phases, each with a server and a database of its own: the ingestion cases and the token
 * endpoint; then the reads (fhir-search, reads-at-scale), so that the readings table holds exactly
 * the readings loaded for them and not the ingestion cases' hundreds of thousands.
 */
export async function runDeviceDataBench(
  options: DeviceDataBenchOptions,
  /** The goal lines to print (default: every goal of issue 17). */
  goals: readonly number[] = [1, 2, 3, 4, 5],
): Promise<{ ok: boolean }> {
  if (options.cases.includes('reads-at-scale') && !options.databaseUrl) throw new Error(PGLITE_REFUSED)
  const emit = emitter('device-data', options.out)
  const figures: GoalFigures = {}
  let ok = true
  let engine: Engine = options.databaseUrl ? 'postgres' : 'pglite'
  const first = options.cases.filter((c) => isIngestCase(c) || c === 'token')
  const second = options.cases.filter((c) => c === 'fhir-search' || c === 'reads-at-scale')
  for (const [phase, cases] of [
    ['ingest', first],
    ['reads', second],
  ] as const) {
    if (cases.length === 0) continue
    const result = await runPhase(options, phase, cases, figures, emit)
    engine = result.engine
    ok &&= result.ok
  }
  for (const line of goalLines(engine, figures)) if (goals.includes(line.goal as number)) emit(line)
  return { ok }
}

/** A server the load goes to: its process, a client at the maximum and one for paced load, its database's name. */
interface Target {
  readonly server: RunningServer
  readonly client: Client
  readonly paced: Client
  readonly database: string | undefined
}

/** One side of a measurement: a request on a server. */
interface Side {
  readonly target: Target
  readonly name: string
  readonly make: (i: number) => Request
}

interface ExtraServer {
  readonly server: RunningServer
  readonly database: { readonly name: string; readonly url: string }
  /** Stops the server, drops its database and removes its DATA_DIR. */
  stop(): Promise<void>
}

/** A second server (the reads' small set): the phase's environment with a database and a DATA_DIR of its own. */
async function startExtraServer(
  env: Record<string, string>,
  options: DeviceDataBenchOptions,
): Promise<ExtraServer> {
  if (!options.databaseUrl) throw new Error(PGLITE_REFUSED)
  log('reads at scale: starting a second server, on a database of its own, for the small set')
  const database = await createRunDatabase(options.databaseUrl)
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'))
  const cleanUp = async () => {
    await database.drop().catch((err: unknown) => log(`dropping the small set's database: ${String(err)}`))
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    const server = await startServer(options, { ...env, DATA_DIR: dataDir, DATABASE_URL: database.url })
    return {
      server,
      database,
      async stop() {
        await server.stop()
        await cleanUp()
      },
    }
  } catch (err) {
    await cleanUp()
    throw err
  }
}

async function runPhase(
  options: DeviceDataBenchOptions,
  phase: 'ingest' | 'reads',
  cases: readonly CaseName[],
  figures: GoalFigures,
  emit: Emit,
): Promise<{ ok: boolean; engine: Engine }> {
  let engine: Engine = options.databaseUrl ? 'postgres' : 'pglite'
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-'))
  const runDb = options.databaseUrl ? await createRunDatabase(options.databaseUrl) : undefined
  let server: RunningServer | undefined
  let driver: Awaited<ReturnType<typeof openDriverDatabase>> | undefined
  let extra: ExtraServer | undefined
  const extraClients: Client[] = []
  let ok = true
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.homedir(),
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      LOG_LEVEL: options.logLevel,
      DATABASE_POOL_MAX: String(options.poolMax),
      // The benchmark's own traffic must not be throttled: one address, a few devices, many readings.
      RATE_LIMIT_PER_MINUTE: '0',
      DEVICE_RATE_LIMIT_PER_MINUTE: '0',
      DEVICE_DAILY_QUOTA: '100000000',
      ACCESS_TOKEN_TTL_SECONDS: '3600',
      BENCH_DEVICES: String(options.devices),
      ...(process.env.BENCH_COUNT_QUERIES === '1' ? { BENCH_COUNT_QUERIES: '1' } : {}),
      ...Object.fromEntries(
        PASSED_TO_SERVER.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
      ),
      ...(runDb ? { DATABASE_URL: runDb.url } : {}),
    }
    log(
      `${phase} phase: starting the server on ${runDb ? 'PostgreSQL (a database for this run)' : 'PGlite (temporary DATA_DIR)'} with ${options.devices} devices`,
    )
    const startedAt = performance.now()
    server = await startServer(options, env)
    const { ready } = server
    engine = ready.engine
    log(`server ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s; getting device tokens`)
    const baseUrl = `http://127.0.0.1:${ready.port}`
    const tokens = await Promise.all(ready.devices.map((d) => deviceToken(baseUrl, d)))
    const auth = (i: number) => ({ authorization: `Bearer ${tokens[i % tokens.length]}` })

    const cpus = os.cpus()
    emit({
      kind: 'meta',
      phase,
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
      cases,
      ...(cases.some((c) => c === 'fhir-search' || c === 'reads-at-scale')
        ? {
            reads: {
              readings: options.readings,
              readingsSmall: options.readingsSmall,
              patients: options.patients,
              readingsDays: options.readingsDays,
              careTeam: options.careTeam,
              windowDays: READ_WINDOW_DAYS,
            },
          }
        : {}),
      date: new Date().toISOString(),
    })

    const secured = new Client(ready.port, options.concurrency)
    const pacedClient = new Client(ready.port, 256)
    const bare = new Client(ready.baselinePort, options.concurrency)
    const readings = new Readings()
    // Readings the server acknowledged, by contract, to compare with what it stored.
    const acknowledged: Record<string, number> = { v1: 0, v2: 0, 'bench-v1': 0, 'bench-v2': 0 }
    const count = (source: string, r: LoadResult, size: number) =>
      (acknowledged[source] = (acknowledged[source] ?? 0) + (r.requests - r.errors) * size)

    for (const name of cases) {
      if (!isIngestCase(name)) continue
      if (!driver)
        driver = await openDriverDatabase(runDb?.url, options.poolMax, ready.devices[0] as BenchDevice)
      const size = name === 'v2-batch-100' ? 100 : name === 'v2-batch-1000' ? 1000 : 1
      const v1 = name === 'v1-single'
      const securedReq = (i: number): Request =>
        v1
          ? { path: '/api/v1/device-data', body: v1Body(readings), headers: auth(i) }
          : { path: '/api/v2/device-data', body: v2Body(readings, size), headers: auth(i) }
      const baselineReq = (): Request =>
        v1
          ? { path: '/baseline/v1', body: v1Body(readings) }
          : { path: '/baseline/v2', body: v2Body(readings, size) }
      const securedOk = v1 ? [201] : [200]
      const baselineOk = v1 ? [201] : [200]
      const load = { concurrency: options.concurrency, seconds: options.seconds }

      log(`${name}: baseline (b), driver`)
      const b = await driverBaseline(driver.db, driver.target, readings, size, options)
      log(`${name}: baseline (a), bare route`)
      const source = v1 ? 'v1' : 'v2'
      count(
        `bench-${source}`,
        await closedLoop(bare, {
          ...load,
          seconds: options.warmupSeconds,
          ok: baselineOk,
          make: baselineReq,
        }),
        size,
      )
      const serverPid = server.child.pid as number
      const cpuA0 = cpuSnapshot(serverPid, runDb?.name)
      const a = await closedLoop(bare, { ...load, ok: baselineOk, make: baselineReq })
      const cpuA = cpuPerRequest(cpuA0, cpuSnapshot(serverPid, runDb?.name), a.requests)
      count(`bench-${source}`, a, size)
      log(`${name}: secured, maximum`)
      count(
        source,
        await closedLoop(secured, {
          ...load,
          seconds: options.warmupSeconds,
          ok: securedOk,
          make: securedReq,
        }),
        size,
      )
      const cpuS0 = cpuSnapshot(serverPid, runDb?.name)
      const max = await closedLoop(secured, { ...load, ok: securedOk, make: securedReq })
      const cpuS = cpuPerRequest(cpuS0, cpuSnapshot(serverPid, runDb?.name), max.requests)
      count(source, max, size)
      const rate = max.requestsPerSecond / 2
      log(`${name}: secured, paced at half load (${rate.toFixed(0)} requests/s)`)
      const half = await paced(pacedClient, {
        rate,
        seconds: options.halfSeconds,
        ok: securedOk,
        make: securedReq,
      })
      count(source, half, size)

      const ratioToA = (max.requestsPerSecond * size) / (a.requestsPerSecond * size)
      const ratioToB = (max.requestsPerSecond * size) / b.rowsPerSecond
      if (name === 'v2-single') figures.single = { ratioToA, p99AtHalfLoadMs: half.p99Ms }
      if (name === 'v2-batch-1000') figures.batch1000 = { ratioToB }
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
        baselineB: {
          rowsPerSecond: round(b.rowsPerSecond),
          statementsPerSecond: round(b.statementsPerSecond),
          rowsPerStatement: size,
          concurrency: options.concurrency,
        },
        ratioToA: round(ratioToA, 3),
        ratioToB: round(ratioToB, 3),
      })
    }

    // --- reads and the token endpoint, each against /health/live in the same run ---------------
    const live: Request = { method: 'GET', path: '/health/live', body: '' }
    const main: Target = { server, client: secured, paced: pacedClient, database: runDb?.name }
    /**
     * Each side: /health/live, then its request in a closed loop at the maximum (CPU per request),
     * then paced at half of that. With several sides and rounds, the maximum and the half load run
     * in rounds that alternate between the sides (a, b, then b, a, …), so that a machine whose speed
     * drifts over minutes moves every side alike; a side's figures are its rounds combined.
     */
    const measureSides = async (sides: readonly Side[], okStatus: readonly number[], rounds = 1) => {
      const load = { concurrency: options.concurrency, seconds: options.seconds }
      const state = sides.map((side) => ({
        side,
        health: [] as LoadResult[],
        max: [] as LoadResult[],
        cpu: [] as CpuUsed[],
        half: [] as LoadResult[],
      }))
      const order = (r: number) => (r % 2 === 0 ? state : [...state].reverse())
      const rounded = (r: number) => (rounds > 1 ? ` (round ${r + 1} of ${rounds})` : '')
      for (const st of state) {
        const { client } = st.side.target
        log(`${st.side.name}: /health/live`)
        await closedLoop(client, { ...load, seconds: options.warmupSeconds, ok: [200], make: () => live })
        st.health.push(await closedLoop(client, { ...load, ok: [200], make: () => live }))
        await closedLoop(client, {
          ...load,
          seconds: options.warmupSeconds,
          ok: okStatus,
          make: st.side.make,
        })
      }
      for (let r = 0; r < rounds; r++)
        for (const st of order(r)) {
          const { server: s, client, database } = st.side.target
          const pid = s.child.pid as number
          log(`${st.side.name}: maximum${rounded(r)}`)
          const cpu0 = cpuSnapshot(pid, database)
          st.max.push(await closedLoop(client, { ...load, ok: okStatus, make: st.side.make }))
          st.cpu.push(cpuUsed(cpu0, cpuSnapshot(pid, database)))
        }
      for (let r = 0; r < rounds; r++)
        for (const st of order(r)) {
          const rate = combine(st.max).requestsPerSecond / 2
          log(`${st.side.name}: paced at half load (${rate.toFixed(0)} requests/s)${rounded(r)}`)
          st.half.push(
            await paced(st.side.target.paced, {
              rate,
              seconds: options.halfSeconds,
              ok: okStatus,
              make: st.side.make,
            }),
          )
        }
      return state.map((st) => {
        const [health, max, half] = [combine(st.health), combine(st.max), combine(st.half)]
        if (health.errors + max.errors + half.errors > 0) ok = false
        const cpu = perRequestCpu(addCpu(st.cpu), max.requests)
        const ratioToHealthLive = max.requestsPerSecond / health.requestsPerSecond
        // What one core would serve: the inverse of the server's (and PostgreSQL's) CPU per request.
        const cpuMs = (cpu.serverMs ?? NaN) + ('postgresMs' in cpu ? (cpu.postgresMs ?? NaN) : 0)
        const requestsPerCoreSecond = cpuMs > 0 ? 1000 / cpuMs : NaN
        return {
          max,
          half,
          ratioToHealthLive,
          requestsPerCoreSecond,
          line: {
            secured: {
              ...summary(max),
              cpuPerRequest: cpu,
              requestsPerCoreSecond: round(requestsPerCoreSecond),
            },
            halfLoad: { targetRequestsPerSecond: round(max.requestsPerSecond / 2), ...summary(half) },
            healthLive: summary(health),
            ratioToHealthLive: round(ratioToHealthLive, 3),
          },
        }
      })
    }
    /** One side, one round: on this phase's server. */
    const measure = async (name: string, okStatus: readonly number[], make: (i: number) => Request) => {
      const [m] = await measureSides([{ target: main, name, make }], okStatus)
      if (!m) throw new Error(`${name}: not measured`)
      return m
    }

    if (cases.includes('token')) {
      const meta = (await (await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)).json()) as {
        token_endpoint: string
      }
      const tokenPath = new URL(meta.token_endpoint).pathname
      const basics = ready.devices.map(
        (d) =>
          `Basic ${Buffer.from(`${encodeURIComponent(d.clientId)}:${encodeURIComponent(d.clientSecret)}`).toString('base64')}`,
      )
      const grant = (i: number): Request => ({
        path: tokenPath,
        body: 'grant_type=client_credentials&scope=device-data%3Awrite',
        contentType: 'application/x-www-form-urlencoded',
        headers: { authorization: basics[i % basics.length] as string },
      })
      const m = await measure('token', [200], grant)
      figures.token = { ratioToHealthLive: m.ratioToHealthLive, grantsPerSecond: m.max.requestsPerSecond }
      emit({
        kind: 'case',
        engine: ready.engine,
        case: 'token',
        grant: 'client_credentials (client_secret_basic)',
        clients: basics.length,
        concurrency: options.concurrency,
        ...m.line,
      })
    }

    // Reads: the loader (in the server process) loads whole patients through the repository.
    const perPatient = Math.max(1, Math.floor(options.readings / options.patients))
    let loaded: LoadedReply | undefined
    const loadTo = async (
      target: Target,
      readings: number,
      scale: 'small' | 'large',
    ): Promise<LoadedReply> => {
      log(
        `loading readings through the repository up to ${readings.toLocaleString('en')} (${perPatient} a patient)`,
      )
      const request: LoadRequest = {
        type: 'load',
        readings,
        readingsPerPatient: perPatient,
        days: options.readingsDays,
        careTeam: options.careTeam,
        scale,
      }
      const { child } = target.server
      const reply = await new Promise<LoadedReply>((resolve, reject) => {
        const onMessage = (m: LoadedReply | LoadFailed | LoadProgress) => {
          if (m?.type === 'load-progress') return log(`  ${m.readings.toLocaleString('en')} readings loaded`)
          if (m?.type === 'loaded') resolve(m)
          else if (m?.type === 'load-failed') reject(new Error(`the loader failed: ${m.message}`))
          else return
          child.off('message', onMessage)
        }
        child.on('message', onMessage)
        child.send(request)
      })
      if (target === main) loaded = reply
      emit({
        kind: 'load',
        engine: ready.engine,
        readings: reply.readings,
        patients: reply.patients,
        readingsPerPatient: perPatient,
        days: options.readingsDays,
        seconds: reply.seconds,
        readingsPerSecond: reply.readingsPerSecond,
        tableRows: reply.tableRows,
        tableBytes: reply.tableBytes,
      })
      return reply
    }
    const queries = (set: LoadedReply) => {
      const end = new Date(set.windowEnd)
      const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
      const from = instant(new Date(end.getTime() - READ_WINDOW_DAYS * 86_400_000))
      const to = instant(new Date(end.getTime() + 1000))
      const patient = (i: number) => set.careTeam[i % set.careTeam.length] as string
      return {
        'device-data-90d': (i: number): Request => ({
          method: 'GET',
          path: `/api/v2/device-data?patient=${patient(i)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
          body: '',
          headers: { authorization: `Bearer ${set.tokens.api}` },
        }),
        'fhir-search': (i: number): Request => ({
          method: 'GET',
          path: `/fhir/R4/Observation?patient=${patient(i)}&code=${encodeURIComponent('http://loinc.org|2339-0')}&date=ge${encodeURIComponent(from)}&date=lt${encodeURIComponent(to)}&_count=50`,
          body: '',
          headers: { authorization: `Bearer ${set.tokens.fhir}`, accept: 'application/fhir+json' },
        }),
      }
    }
    /** One request checked before measuring: the query answers 200 with a full page (an empty answer would measure nothing). */
    const resultSize = async (name: ReadQuery, target: Target, req: Request): Promise<number> => {
      const res = await target.client.send(req)
      if (res.status !== 200) throw new Error(`${name}: answered ${res.status}: ${res.body.slice(0, 300)}`)
      const body = JSON.parse(res.body) as { readings?: unknown[]; entry?: unknown[] }
      const n = (name === 'fhir-search' ? body.entry : body.readings)?.length ?? 0
      if (n === 0)
        throw new Error(`${name}: the query found no readings; the loaded set does not cover the window`)
      return n
    }
    /** A read query on each loaded set (on its own server), in alternating rounds when more than one. */
    const measureRead = async (
      name: ReadQuery,
      sets: ReadonlyArray<{ set: LoadedReply; target: Target; scale: string }>,
      rounds = 1,
    ) => {
      const sides: Side[] = []
      const sizes: number[] = []
      for (const { set, target, scale } of sets) {
        const make = queries(set)[name]
        sizes.push(await resultSize(name, target, make(0)))
        sides.push({
          target,
          name: `${name} (${scale}, ${set.readings.toLocaleString('en')} readings)`,
          make,
        })
      }
      const measured = await measureSides(sides, [200], rounds)
      return measured.map((m, i) => ({ ...m, size: sizes[i] as number }))
    }
    const scaleLine = (set: LoadedReply, m: Awaited<ReturnType<typeof measureRead>>[number]) => ({
      readingsLoaded: set.readings,
      patients: set.patients,
      tableRows: set.tableRows,
      resultsPerRequest: m.size,
      ...m.line,
    })

    if (cases.includes('fhir-search')) {
      const set = loaded ?? (await loadTo(main, options.readingsSmall, 'small'))
      const [m] = await measureRead('fhir-search', [{ set, target: main, scale: 'fhir-search' }])
      if (!m) throw new Error('fhir-search: not measured')
      figures.fhirSearch = {
        readings: set.readings,
        patients: set.patients,
        requestsPerCoreSecond: m.requestsPerCoreSecond,
        p99AtHalfLoadMs: m.half.p99Ms,
        ratioToHealthLive: m.ratioToHealthLive,
        requestsPerSecond: m.max.requestsPerSecond,
      }
      emit({
        kind: 'case',
        engine: ready.engine,
        case: 'fhir-search',
        careTeam: set.careTeam.length,
        windowDays: READ_WINDOW_DAYS,
        ...scaleLine(set, m),
      })
    }

    if (cases.includes('reads-at-scale')) {
      // The small set on a second server with a database of its own, the large set on this one: both
      // scales are then measured in the same minutes, in alternating rounds (measureSides), instead
      // of ten minutes and a load apart on a machine whose speed drifts (docs/performance.md, run 15).
      extra = await startExtraServer(env, options)
      const other: Target = {
        server: extra.server,
        client: new Client(extra.server.ready.port, options.concurrency),
        paced: new Client(extra.server.ready.port, 256),
        database: extra.database.name,
      }
      extraClients.push(other.client, other.paced)
      const small = await loadTo(other, options.readingsSmall, 'small')
      const large = await loadTo(main, options.readings, 'large')
      figures.reads = { readings: large.readings, patients: large.patients, queries: {} }
      for (const q of READ_QUERIES) {
        const [s, l] = await measureRead(
          q,
          [
            { set: small, target: other, scale: 'small' },
            { set: large, target: main, scale: 'large' },
          ],
          options.readRounds,
        )
        if (!s || !l) throw new Error(`${q}: not measured`)
        const ratio = l.max.requestsPerSecond / s.max.requestsPerSecond
        figures.reads.queries[q] = {
          throughputRatioLargeToSmall: ratio,
          p99AtHalfLoadMsLarge: l.half.p99Ms,
          p99AtHalfLoadMsSmall: s.half.p99Ms,
        }
        emit({
          kind: 'case',
          engine: ready.engine,
          case: 'reads-at-scale',
          query: q,
          careTeam: large.careTeam.length,
          windowDays: READ_WINDOW_DAYS,
          rounds: options.readRounds,
          small: scaleLine(small, s),
          large: scaleLine(large, l),
          throughputRatioLargeToSmall: round(ratio, 3),
        })
        if (q === 'fhir-search')
          figures.fhirSearch = {
            readings: large.readings,
            patients: large.patients,
            requestsPerCoreSecond: l.requestsPerCoreSecond,
            p99AtHalfLoadMs: l.half.p99Ms,
            ratioToHealthLive: l.ratioToHealthLive,
            requestsPerSecond: l.max.requestsPerSecond,
          }
      }
    }

    // What the server stored, by contract: every acknowledged reading is there.
    const stats = (await (await fetch(`http://127.0.0.1:${ready.baselinePort}/baseline/stats`)).json()) as {
      readings: Record<string, number>
      auditEntries: number
      queryCounts?: unknown
    }
    // The loader's readings are stored as v2 readings; they are not acknowledged ones.
    const loadedReadings = loaded?.readings ?? 0
    const missing = Object.entries(acknowledged).filter(
      ([source, n]) => (stats.readings[source] ?? 0) - (source === 'v2' ? loadedReadings : 0) < n,
    )
    if (missing.length > 0) ok = false
    emit({
      kind: 'stored',
      phase,
      engine: ready.engine,
      acknowledged,
      loaded: loadedReadings,
      stored: stats.readings,
      auditEntries: stats.auditEntries,
      everyAcknowledgedReadingStored: missing.length === 0,
      ...(stats.queryCounts ? { queryCounts: stats.queryCounts } : {}),
    })
    secured.close()
    pacedClient.close()
    bare.close()
  } finally {
    await driver?.close().catch((err: unknown) => log(`closing baseline (b)'s database: ${String(err)}`))
    for (const c of extraClients) c.close()
    await extra?.stop()
    await server?.stop()
    if (runDb) await runDb.drop().catch((err: unknown) => log(`dropping the run's database: ${String(err)}`))
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { ok, engine }
}
