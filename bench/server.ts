// The server the device-data benchmark drives (bench/device-data.ts starts it as a child process):
// exactly what src/main.ts does — config from the environment, development secrets under
// DATA_DIR, the database (PGlite in DATA_DIR, or PostgreSQL with DATABASE_URL), migrations,
// buildApp, listen — plus, for the benchmark only:
//   - the demo world (`vigil seed-demo`, in process) and BENCH_DEVICES - 1 more devices, each a
//     confidential client bound to its own patient (the load is spread over devices, as in life);
//   - baseline (a): a bare Fastify instance in this same process, on its own port, sharing the
//     same database pool, with one route per contract that validates the same body against the
//     same TypeBox schema (the same Ajv options) and inserts the same row into `readings` with the
//     same statement — no authentication, policy, encryption, audit, request log or metrics. It
//     lives here and never in src/: production has no unauthenticated write route.
//   - the reads-at-scale loader (bench/loader.ts): on a `load` message from the parent it loads
//     readings through the repository, in this process (PGlite allows one process per
//     directory; the data keys are this server's), and answers `loaded` when done.
//   - for the events benchmark (bench/events.ts, BENCH_EVENTS=1): a backend service of the demo
//     organisation (client credentials, scope subscriptions:manage device-data:read) whose
//     credentials go to the parent, which subscribes through /api/v2/subscriptions like any
//     integration; and, on a `relay-start` message, the outbox relay — the events module's own
//     (createEvents, the production code, on this process's module context), started then rather
//     than at listen so the parent can measure it draining a backlog (the run sets EVENTS_RELAY=false
//     so the app's relay never runs beside it). Answers `relay-started`.
// It chooses its own port (reservePort), reports its ports and the devices' credentials to the
// parent over the IPC channel, and stops on SIGTERM (so `--cpu-prof` writes its profile), or when
// the parent is gone (its IPC channel closed: an interrupted run leaves no server behind).

import { randomBytes, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Type } from 'typebox'
import { buildApp } from '../src/app.ts'
import { loadConfigFromProcess } from '../src/config/index.ts'
import { seedDemo } from '../src/modules/demo/seed-demo.ts'
import { insertReadings, type ReadingRow } from '../src/modules/device-data/repository.ts'
import { PostReadings } from '../src/modules/device-data/schema.v2.ts'
import { parseDeviceTime, RFC3339_WITH_OFFSET } from '../src/modules/device-data/validate-reading.ts'
import { keyringSealer } from '../src/platform/crypto/keyring.ts'
import { resolveSecrets } from '../src/platform/crypto/dev-secrets.ts'
import {
  databaseOptions,
  migrate,
  openDatabase,
  type Database,
  type Queryable,
} from '../src/platform/db/index.ts'
import { createLogger } from '../src/platform/observability/logger.ts'
import { startTracing } from '../src/platform/observability/tracing.ts'
import { createClientStore } from '../src/security/oauth-server/index.ts'
import { serviceClientMetadata } from '../src/modules/clients/index.ts'
import { createEvents, type Events } from '../src/modules/events/index.ts'
import { Registry } from 'prom-client'
import { VERSION } from '../src/version.ts'
import { reservePort } from '../test/support/ports.ts'
import { createReadLoader, type LoadFailed, type LoadProgress, type LoadRequest } from './loader.ts'
import { traceLoop } from './trace.ts'

export interface BenchDevice {
  readonly deviceId: string
  readonly patientId: string
  readonly clientId: string
  readonly clientSecret: string
}

export interface ServerReady {
  readonly type: 'ready'
  readonly engine: 'pglite' | 'postgres'
  readonly port: number
  readonly baselinePort: number
  readonly devices: readonly BenchDevice[]
  readonly poolMax: number
  /** BENCH_EVENTS=1: a backend service of the demo organisation that may manage its webhook subscriptions. */
  readonly eventsService?: { readonly clientId: string; readonly clientSecret: string }
}

/** The parent's request to start the outbox relay (events benchmark), and the answer. */
export interface RelayStart {
  readonly type: 'relay-start'
}
export interface RelayStarted {
  readonly type: 'relay-started'
}

// The v1 body as routes.v1.ts declares it (that schema is not exported; kept identical here).
const V1_TYPES = ['glucose', 'heart-rate', 'blood-pressure', 'spo2', 'weight', 'temperature'] as const
const V1_CODES: Record<string, string> = {
  glucose: '2339-0',
  'heart-rate': '8867-4',
  'blood-pressure': '85354-9',
  spo2: '59408-5',
  weight: '29463-7',
  temperature: '8310-5',
}
const PostReadingV1 = Type.Object(
  {
    type: Type.Union(V1_TYPES.map((t) => Type.Literal(t))),
    value: Type.Optional(Type.Number()),
    systolic: Type.Optional(Type.Number()),
    diastolic: Type.Optional(Type.Number()),
    unit: Type.String({ minLength: 1, maxLength: 16 }),
    time: Type.String({ pattern: RFC3339_WITH_OFFSET }),
  },
  { additionalProperties: false },
)

/**
 * BENCH_COUNT_QUERIES=1: the app's database counts its statements (by their first words) and
 * transactions, and /baseline/stats reports them — how many round trips a request costs. The
 * baseline route uses the raw database, so it is not counted. Off by default (it costs a little).
 */
interface QueryCounts {
  statements: Record<string, number>
  transactions: number
}

function countingDatabase(db: Database, counts: QueryCounts): Database {
  const key = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 90)
  const wrap = (q: Queryable, inTx: boolean): Queryable => ({
    query(sql, params) {
      const k = `${inTx ? '[tx] ' : ''}${key(sql)}`
      counts.statements[k] = (counts.statements[k] ?? 0) + 1
      return q.query(sql, params)
    },
    exec: (sql) => q.exec(sql),
  })
  return {
    ...db,
    ...wrap(db, false),
    kind: db.kind,
    transaction(fn) {
      counts.transactions++
      return db.transaction((tx) => fn(wrap(tx, true)))
    },
    poolStats: () => db.poolStats(),
    close: () => db.close(),
  }
}

const PLACEHOLDER_INDEX = 'bench-content-index-placeholder-0000000000'

interface BaselineTarget {
  readonly deviceId: string
  readonly patientId: string
}

function baselineRow(
  target: BaselineTarget,
  r: {
    id?: string | undefined
    code: string
    effectiveDateTime: string
    sequence?: number | undefined
    content: unknown
  },
  now: Date,
  source: string,
): ReadingRow {
  const time = parseDeviceTime(r.effectiveDateTime)
  if (!time) throw Object.assign(new Error('bad time'), { statusCode: 400 })
  return {
    id: randomUUID(),
    patientId: target.patientId,
    deviceId: target.deviceId,
    code: r.code,
    category: 'laboratory',
    effectiveAt: time.at,
    offsetMinutes: time.offsetMinutes,
    receivedAt: now,
    clientReadingId: r.id ?? null,
    sequence: r.sequence ?? null,
    // Plaintext stands in for the sealed content: no encryption in the baseline.
    valueSealed: JSON.stringify(r.content),
    contentIndex: PLACEHOLDER_INDEX,
    source: `bench-${source}`,
  }
}

async function startBaseline(
  db: Database,
  target: BaselineTarget,
  bodyLimit: number,
  host: string,
  counts: QueryCounts | undefined,
): Promise<{ port: number; close: () => Promise<void> }> {
  const bare = Fastify({
    logger: false,
    bodyLimit,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  })
  bare.post('/baseline/v2', { schema: { body: PostReadings } }, async (request) => {
    const body = request.body as PostReadings
    const now = new Date()
    const rows = body.readings.map((r) =>
      baselineRow(
        target,
        { ...r, content: { value: r.value, unit: r.unit, components: r.components, note: r.note } },
        now,
        'v2',
      ),
    )
    const stored = await insertReadings(db, rows)
    return { created: stored.size }
  })
  bare.post('/baseline/v1', { schema: { body: PostReadingV1 } }, async (request, reply) => {
    const body = request.body as { type: string; value?: number; unit: string; time: string }
    const row = baselineRow(
      target,
      {
        code: V1_CODES[body.type] as string,
        effectiveDateTime: body.time,
        content: { value: body.value, unit: body.unit },
      },
      new Date(),
      'v1',
    )
    const stored = await insertReadings(db, [row])
    return reply.code(201).send({ id: row.id, status: stored.size === 1 ? 'created' : 'duplicate' })
  })
  // For the runner's sanity check at the end: what was stored, by contract.
  bare.get('/baseline/stats', async () => {
    const { rows } = await db.query<{ source: string; n: number | string }>(
      'SELECT source, count(*) AS n FROM readings GROUP BY source',
    )
    const audit = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM audit_entries')
    return {
      readings: Object.fromEntries(rows.map((r) => [r.source, Number(r.n)])),
      auditEntries: Number(audit.rows[0]?.n ?? 0),
      ...(counts ? { queryCounts: counts } : {}),
    }
  })
  await bare.listen({ port: 0, host })
  const address = bare.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, close: () => bare.close() }
}

/** A confidential client-credentials client with a secret (the bench's devices and its integration). */
function upsertServiceClient(
  clients: ReturnType<typeof createClientStore>,
  clientId: string,
  secret: string,
  scope: string,
): Promise<void> {
  return clients.upsert({ clientId, secret, metadata: serviceClientMetadata(clientId, scope) })
}

async function main(): Promise<void> {
  traceLoop('server')
  // Its own port, held from start-up to listen (the parent does not pick one: see reservePort).
  const reservation = await reservePort(process.env.HOST ?? '127.0.0.1')
  process.env.PORT = String(reservation.port)
  let config = loadConfigFromProcess()
  const logger = createLogger({ level: config.logLevel })
  config = (await resolveSecrets(config)).config
  const tracing = startTracing({
    endpoint: config.otel.endpoint,
    serviceName: config.otel.serviceName,
    version: VERSION,
  })
  // The server's own options (pool, prepared statements, timeouts), except the statement timeouts:
  // the reads' loader vacuums and checkpoints 10 M readings, for longer than a request may take.
  const db = await openDatabase({
    ...databaseOptions(config),
    statementTimeoutMs: 0,
    idleInTransactionTimeoutMs: 0,
  })
  await migrate(db)
  const counts: QueryCounts | undefined =
    process.env.BENCH_COUNT_QUERIES === '1' ? { statements: {}, transactions: 0 } : undefined
  const app = await buildApp(config, {
    db: counts ? countingDatabase(db, counts) : db,
    logger,
    tracing,
    processMetrics: true,
  })
  const { modules } = app.vigil

  // The devices: the demo glucometer of `vigil seed-demo`, and more like it.
  const demo = await seedDemo({
    db,
    keyring: modules.keyring,
    password: process.env.BENCH_DEMO_PASSWORD ?? randomBytes(12).toString('base64url'),
  })
  const demoDevice = (
    await db.query<{ id: string }>('SELECT id FROM devices WHERE client_id = $1', [
      demo.clients.device.clientId,
    ])
  ).rows[0]
  if (!demoDevice) throw new Error('seed-demo did not create the demo device')
  const devices: BenchDevice[] = [
    {
      deviceId: demoDevice.id,
      patientId: demo.patients.patient,
      clientId: demo.clients.device.clientId,
      clientSecret: demo.clients.device.clientSecret,
    },
  ]
  const clients = createClientStore({ db, sealer: keyringSealer(modules.keyring) })
  const wanted = Math.max(1, Number(process.env.BENCH_DEVICES ?? 16))
  for (let i = devices.length; i < wanted; i++) {
    const clientId = `bench-device-${i}-${randomBytes(4).toString('hex')}`
    const clientSecret = randomBytes(32).toString('base64url')
    await upsertServiceClient(clients, clientId, clientSecret, 'device-data:write')
    const deviceId = randomUUID()
    const patientId = await db.transaction(async (tx) => {
      const patient = await modules.patients.create(
        {
          organisationId: demo.organisation.id,
          demographics: { name: { given: ['Bench'], family: `Patient ${i}` }, gender: 'unknown' },
        },
        tx,
      )
      await tx.query(
        "INSERT INTO devices (id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version) VALUES ($1, $2, $3, 'Vigil Bench', 'Glucometer', $4, 'glucometer', '1.0.0')",
        [deviceId, clientId, demo.organisation.id, `BENCH-${i}-${clientId}`],
      )
      await tx.query(
        "INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES ($1, $2, $3, now(), 'bench')",
        [randomUUID(), deviceId, patient.id],
      )
      return patient.id
    })
    devices.push({ deviceId, patientId, clientId, clientSecret })
  }

  // The events benchmark's integration: a backend service of the demo organisation.
  let eventsService: ServerReady['eventsService']
  if (process.env.BENCH_EVENTS === '1') {
    const clientId = `bench-integration-${randomBytes(4).toString('hex')}`
    const clientSecret = randomBytes(32).toString('base64url')
    await upsertServiceClient(clients, clientId, clientSecret, 'subscriptions:manage device-data:read')
    await db.query('UPDATE oauth_clients SET organisation_id = $2 WHERE client_id = $1', [
      clientId,
      demo.organisation.id,
    ])
    eventsService = { clientId, clientSecret }
  }

  if (counts) {
    // Count the requests only, not the set-up.
    counts.statements = {}
    counts.transactions = 0
  }
  const baseline = await startBaseline(
    db,
    devices[0] as BenchDevice,
    config.bodyLimitBytes,
    config.host,
    counts,
  )
  await reservation.release()
  await app.listen({ port: config.port, host: config.host })

  let relay: Events | undefined
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100)
    await relay?.stop()
    await baseline.close()
    await app.close()
    clearInterval(reaper)
    await db.close()
    await tracing.shutdown()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  process.on('disconnect', () => void stop())
  if (!process.connected) return void stop() // the parent went while this one was starting

  const load = createReadLoader(app, demo.organisation.id)
  process.on('message', (m: RelayStart) => {
    if (m?.type !== 'relay-start' || relay) return
    // The production relay on this server's module context, switched on (its metrics in a registry of their own).
    relay = createEvents(
      { ...modules, config: { ...modules.config, events: { ...modules.config.events, relay: true } } },
      { registry: new Registry() },
    )
    void relay.start().then(() => process.send?.({ type: 'relay-started' } satisfies RelayStarted))
  })
  process.on('message', (m: LoadRequest) => {
    if (m?.type !== 'load') return
    load(m, (readings) => process.send?.({ type: 'load-progress', readings } satisfies LoadProgress)).then(
      (reply) => process.send?.(reply),
      (err: unknown) =>
        process.send?.({
          type: 'load-failed',
          message: err instanceof Error ? (err.stack ?? err.message) : String(err),
        } satisfies LoadFailed),
    )
  })

  const ready: ServerReady = {
    type: 'ready',
    engine: db.kind,
    port: config.port,
    baselinePort: baseline.port,
    devices,
    poolMax: config.databasePoolMax,
    ...(eventsService ? { eventsService } : {}),
  }
  process.send?.(ready)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench server: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})
