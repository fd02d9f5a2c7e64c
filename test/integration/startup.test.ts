// The set-up contract through the real process: first start on a fresh DATA_DIR (embedded
// PGlite, generated development keys), restart keeping data, the data-directory lock, graceful
// SIGTERM with a request in flight, configuration errors and production's refusal of
// development keys.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { openDatabase } from '../../src/platform/db/index.ts'
import { readLockHolder } from '../../src/platform/db/data-dir-lock.ts'
import {
  childEnv,
  REPO_ROOT,
  get,
  removeDir,
  run,
  SERVER_ARGS,
  startServer,
  stopServer,
  tempDir,
  until,
  type Env,
  type LogEntry,
  type Proc,
} from './server-process.ts'

const GENERATED = /development keys and secrets generated on first start/

interface ReadyBody {
  status: string
  checks: Record<string, { status: string }>
}

describe('first start, lock and restart on one DATA_DIR (embedded PGlite)', () => {
  let dataDir: string
  let env: Env
  let first: Proc | undefined
  let second: Proc | undefined
  let firstAddress = ''

  before(async () => {
    dataDir = tempDir('startup')
    // PGlite-specific: DATABASE_URL and REDIS_URL are left out on purpose (SRS §Product contract: no other service).
    env = childEnv(dataDir)
    const serving = await startServer(env)
    first = serving.proc
    firstAddress = serving.address
  })

  after(async () => {
    await first?.kill()
    await second?.kill()
    removeDir(dataDir)
  })

  test('[SRS-SETUP-001][SRS-SETUP-004] a fresh DATA_DIR serves /health/ready on PGlite, generates development keys (0600), says so, and never logs them', async () => {
    assert.ok(first)
    const res = await get(`${firstAddress}/health/ready`)
    assert.equal(res.status, 200)
    const body = (await res.json()) as ReadyBody
    assert.equal(body.status, 'ok')
    assert.equal(body.checks.database?.status, 'ok')
    assert.deepEqual(Object.keys(body.checks), ['database'], 'no other service (Redis) is involved')

    const entries = first.entries()
    const opened = entries.find((e) => e.msg === 'database opened')
    assert.equal(opened?.database, 'pglite')
    assert.equal(opened?.dataDir, dataDir)

    const secretsFile = path.join(dataDir, 'dev-secrets.json')
    const generated = entries.find((e) => typeof e.msg === 'string' && GENERATED.test(e.msg))
    assert.ok(generated, 'the log says development keys were generated')
    assert.equal(generated.level, 40, 'a warning, not an info line')
    assert.equal(generated.file, secretsFile)

    assert.ok(existsSync(secretsFile))
    assert.equal(statSync(secretsFile).mode & 0o777, 0o600)
    const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, unknown>
    assert.equal(typeof secrets.keyring, 'string')
    assert.equal(typeof secrets.cookieSecret, 'string')
    const keyring = secrets.keyring as string
    const cookieSecret = secrets.cookieSecret as string
    assert.match(keyring, /^dev-1:[A-Za-z0-9+/]{43}=$/)
    assert.match(cookieSecret, /^dev\./)
    // Every secret in the file, whole and without its marker prefix, is absent from the output.
    const values = Object.entries(secrets)
      .filter(([key, v]) => key !== 'warning' && typeof v === 'string')
      .flatMap(([, v]) => [v as string, (v as string).replace(/^dev-1:|^dev\./, '')])
    assert.ok(values.length >= 4)
    const output = first.stdout + first.stderr
    for (const value of values) {
      assert.ok(value.length >= 32)
      assert.ok(!output.includes(value), 'a generated secret appeared in the output')
    }
  })

  test('[SRS-SETUP-003] a second process on the same DATA_DIR exits non-zero naming the directory, and the first keeps serving', async () => {
    assert.ok(first?.running)
    const lockFile = path.join(dataDir, 'pglite.lock')
    assert.equal(readLockHolder(lockFile)?.pid, first.pid, 'the lock names the running server')

    const other = await run(process.execPath, SERVER_ARGS, { env })
    assert.notEqual(other.code, 0)
    assert.equal(other.code, 75, 'EX_TEMPFAIL')
    assert.match(other.stderr, /in use by another Vigil process/)
    assert.ok(other.stderr.includes(dataDir), 'the message names the data directory')
    assert.ok(other.stderr.includes(`pid ${first.pid}`), 'the message names the holder')
    assert.ok(!other.stdout.includes('vigil is serving'))

    assert.ok(first.running, 'the first process is still running')
    assert.equal(readLockHolder(lockFile)?.pid, first.pid, 'the lock was not taken over')
    const res = await get(`${firstAddress}/health/ready`)
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as ReadyBody).checks.database?.status, 'ok')
  })

  test('[SRS-SETUP-002][SRS-SETUP-004] a restart on the same DATA_DIR keeps the data, applies no migration again and reuses the keys', async () => {
    assert.ok(first)
    const secretsBefore = readFileSync(path.join(dataDir, 'dev-secrets.json'), 'utf8')
    const firstPid = first.pid
    const firstExit = await stopServer(first)
    assert.deepEqual(firstExit, { code: 0, signal: null })
    assert.ok(first.entries().some((e) => e.msg === 'stopped'))
    assert.ok(!existsSync(path.join(dataDir, 'pglite.lock')), 'a clean stop releases the lock')

    const restarted = await startServer(env)
    second = restarted.proc
    const entries = second.entries()
    const migrations = entries.find((e) => e.msg === 'migrations checked')
    assert.ok(migrations)
    assert.deepEqual(migrations.applied, [])
    assert.equal(
      migrations.alreadyApplied,
      readdirSync(path.join(REPO_ROOT, 'migrations')).filter((n) => n.endsWith('.sql')).length,
    )
    assert.ok(
      !entries.some((e) => typeof e.msg === 'string' && GENERATED.test(e.msg)),
      'keys are not generated again',
    )
    assert.ok(entries.some((e) => e.msg === 'using development keys and secrets; never in production'))
    assert.equal(readFileSync(path.join(dataDir, 'dev-secrets.json'), 'utf8'), secretsBefore)
    const res = await get(`${restarted.address}/health/ready`)
    assert.equal(res.status, 200)

    const secondPid = second.pid
    assert.deepEqual(await stopServer(second), { code: 0, signal: null })

    const db = await openDatabase({ pgliteDir: dataDir })
    try {
      const { rows } = await db.query<{ pid: number; started_at: Date; stopped_at: Date | null }>(
        'SELECT pid, started_at, stopped_at FROM service_instances ORDER BY started_at',
      )
      assert.equal(rows.length, 2, 'both starts are recorded: the first start survived the restart')
      assert.equal(rows[0]?.pid, firstPid)
      assert.ok(rows[0]?.stopped_at instanceof Date, 'the first start was marked stopped')
      assert.equal(rows[1]?.pid, secondPid)
      assert.ok(rows[1]?.stopped_at instanceof Date)
    } finally {
      await db.close()
    }
  })
})

// A stand-in Redis that answers what ioredis sends on connect and holds PING replies on demand:
// with it, /health/ready is provably in flight (its PING reached "Redis") when SIGTERM arrives.
class HoldingRedis {
  readonly server = net.createServer((socket) => this.serve(socket))
  readonly sockets = new Set<net.Socket>()
  holdPings = false
  readonly held: (() => void)[] = []

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as net.AddressInfo).port
  }

  releaseAll(): void {
    for (const reply of this.held.splice(0)) reply()
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => {})
    let buffer: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      const { commands, rest } = parseResp(buffer)
      buffer = rest
      for (const [name] of commands) {
        const command = (name ?? '').toUpperCase()
        if (command === 'PING') {
          const reply = () => void socket.write('+PONG\r\n')
          if (this.holdPings) this.held.push(reply)
          else reply()
        } else if (command === 'INFO') {
          const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n'
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`)
        } else {
          socket.write('+OK\r\n')
        }
      }
    })
  }
}

/** Parses complete RESP arrays of bulk strings; returns the unparsed remainder. */
function parseResp(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = []
  let pos = 0
  for (;;) {
    if (pos >= buf.length || buf[pos] !== 0x2a /* '*' */) break
    let eol = buf.indexOf('\r\n', pos)
    if (eol < 0) break
    const count = Number(buf.toString('latin1', pos + 1, eol))
    let p = eol + 2
    const args: string[] = []
    for (let i = 0; i < count; i++) {
      eol = buf.indexOf('\r\n', p)
      if (eol < 0) break
      const len = Number(buf.toString('latin1', p + 1, eol))
      if (eol + 2 + len + 2 > buf.length) break
      args.push(buf.toString('utf8', eol + 2, eol + 2 + len))
      p = eol + 2 + len + 2
    }
    if (args.length < count) break
    commands.push(args)
    pos = p
  }
  return { commands, rest: buf.subarray(pos) }
}

function connectOutcome(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(2_000, () => {
      socket.destroy()
      resolve('timeout')
    })
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
}

describe('graceful shutdown', () => {
  let dataDir: string
  let proc: Proc | undefined
  const redis = new HoldingRedis()

  after(async () => {
    redis.releaseAll()
    await proc?.kill()
    await redis.close()
    removeDir(dataDir)
  })

  test('[SRS-HTTP-008] SIGTERM with a request in flight: new connections are refused, the request finishes with 200, the process logs "stopped" and exits 0', async () => {
    dataDir = tempDir('shutdown')
    const redisPort = await redis.listen()
    // The configured database (PostgreSQL when DATABASE_URL is set); Redis is the holding stand-in.
    // The readiness deadline and the Redis command deadline are set far beyond the test's steps, so
    // the held PING keeps the request in flight for as long as the test needs, however loaded the
    // machine (with the defaults, 2 s and 500 ms, the request answered on its own whenever SIGTERM
    // and the refused connection took longer than that: CI saw it).
    const serving = await startServer(
      childEnv(
        dataDir,
        {
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          READINESS_TIMEOUT_MS: '60000',
          REDIS_COMMAND_TIMEOUT_MS: '60000',
          SHUTDOWN_TIMEOUT_MS: '60000',
        },
        { externalServices: true },
      ),
    )
    proc = serving.proc
    const { address } = serving
    assert.equal(
      proc.entries().find((e) => e.msg === 'database opened')?.database,
      process.env.DATABASE_URL ? 'postgres' : 'pglite',
    )
    const port = Number(new URL(address).port)

    // Ready once ioredis has connected to the stand-in (its offline queue is off).
    await until(
      'readiness with redis',
      async () => {
        const res = await get(`${address}/health/ready`)
        const body = (await res.json()) as ReadyBody
        return res.status === 200 && body.checks.redis?.status === 'ok' ? true : undefined
      },
      15_000,
      100,
    )

    redis.holdPings = true
    const requestId = 'graceful-shutdown-inflight-0001'
    let settled = false
    const inFlight = get(
      `${address}/health/ready`,
      { headers: { 'x-request-id': requestId } },
      120_000,
    ).finally(() => {
      settled = true
    })
    await until(
      'the readiness PING to reach redis',
      async () => (redis.held.length > 0 ? true : undefined),
      10_000,
    )
    assert.equal(settled, false)
    const completedFor = (e: LogEntry) => e.requestId === requestId && e.msg === 'request completed'
    assert.ok(!proc.entries().some(completedFor), 'the request is still in flight in the server')

    proc.signal('SIGTERM')
    await proc.waitForLog('shutting down', (e) => e.signal === 'SIGTERM', 30_000)
    // The listener is closed at once: a new connection is refused while the request is pending.
    const refused = await until(
      'new connections to be refused',
      async () => {
        const outcome = await connectOutcome(port)
        return outcome === 'ECONNREFUSED' ? outcome : undefined
      },
      30_000,
    )
    assert.equal(refused, 'ECONNREFUSED')
    assert.equal(settled, false, 'the in-flight request was not cut off')
    assert.ok(proc.running, 'the process waits for the in-flight request')

    redis.releaseAll()
    const res = await inFlight
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-request-id'), requestId)
    const body = (await res.json()) as ReadyBody
    assert.equal(body.checks.redis?.status, 'ok')
    assert.equal(body.checks.database?.status, 'ok')

    assert.deepEqual(await proc.waitForExit(30_000), { code: 0, signal: null }, proc.stdout + proc.stderr)
    const entries = proc.entries()
    const shuttingDown = entries.findIndex((e) => e.signal === 'SIGTERM')
    const completed = entries.findIndex(completedFor)
    const stopped = entries.findIndex((e) => e.msg === 'stopped')
    assert.ok(shuttingDown >= 0 && completed > shuttingDown, 'the request completed after shutdown began')
    assert.equal((entries[completed]?.res as { statusCode?: number } | undefined)?.statusCode, 200)
    assert.ok(stopped > completed, '"stopped" comes last')
  })
})

describe('configuration errors stop start-up', () => {
  let dataDir: string

  before(() => {
    dataDir = tempDir('config')
  })
  after(() => removeDir(dataDir))

  test('[SRS-CONF-001] PORT=not-a-port npm start exits non-zero and the message names PORT', async () => {
    const result = await run('npm', ['start'], { env: childEnv(dataDir, { PORT: 'not-a-port' }) })
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /^ {2}- PORT: expected an integer from 0 to 65535$/m)
    assert.ok(!result.stderr.includes('not-a-port'), 'the bad value is not echoed (it may be a secret)')
    assert.ok(!result.stdout.includes('vigil is serving'))
    assert.ok(!existsSync(path.join(dataDir, 'dev-secrets.json')), 'nothing was started or written')
  })

  test('[SRS-CONF-001] every bad variable is reported at once, one line each', async () => {
    const result = await run(process.execPath, SERVER_ARGS, {
      env: childEnv(dataDir, { PORT: '70000', LOG_LEVEL: 'loud', MIGRATE_ON_START: 'maybe' }),
    })
    assert.equal(result.code, 78, 'EX_CONFIG')
    const problems = result.stderr.split('\n').filter((l) => l.startsWith('  - '))
    assert.deepEqual(problems, [
      '  - PORT: expected an integer from 0 to 65535',
      '  - MIGRATE_ON_START: expected true or false',
      '  - LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
    ])
  })
})

describe('production refuses missing and development secrets', () => {
  let dataDir: string
  // Everything else production requires is given, so only the secrets are at issue.
  const production = (overrides: Record<string, string>) =>
    childEnv(dataDir, {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://vigil.example.com',
      METRICS_TOKEN: randomBytes(32).toString('base64url'),
      SMTP_URL: 'smtp://mail.example.com:587',
      ...overrides,
    })

  before(() => {
    dataDir = tempDir('production')
  })
  after(() => removeDir(dataDir))

  test('[SRS-SETUP-004] NODE_ENV=production without ENCRYPTION_KEYRING and COOKIE_SECRET exits non-zero naming both, and generates nothing', async () => {
    const result = await run(process.execPath, SERVER_ARGS, { env: production({}) })
    assert.equal(result.code, 78)
    const problems = result.stderr.split('\n').filter((l) => l.startsWith('  - '))
    assert.equal(problems.length, 2, result.stderr)
    assert.match(problems[0] ?? '', /^ {2}- ENCRYPTION_KEYRING: expected in production/)
    assert.match(problems[1] ?? '', /^ {2}- COOKIE_SECRET: expected in production/)
    assert.ok(
      !existsSync(path.join(dataDir, 'dev-secrets.json')),
      'production never generates development keys',
    )
  })

  test('[SRS-SETUP-004] NODE_ENV=production refuses a development keyring (kid "dev-…")', async () => {
    const result = await run(process.execPath, SERVER_ARGS, {
      env: production({
        ENCRYPTION_KEYRING: `dev-1:${randomBytes(32).toString('base64')}`,
        COOKIE_SECRET: randomBytes(32).toString('base64url'),
      }),
    })
    assert.equal(result.code, 78)
    const problems = result.stderr.split('\n').filter((l) => l.startsWith('  - '))
    assert.deepEqual(problems, [
      '  - ENCRYPTION_KEYRING: expected production keys; development keys (kid "dev-…") are refused',
    ])
    assert.ok(!existsSync(path.join(dataDir, 'dev-secrets.json')))
  })
})
