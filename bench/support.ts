// What every HTTP benchmark case shares (bench/device-data.ts, bench/events.ts): reading the
// BENCH_* environment, the JSON-line output, the run's own PostgreSQL database, the bench server
// process (bench/server.ts) and a device's access token, CPU accounting from /proc, the summary of
// a load result, and the `goal` lines (target, figure, met). The load itself (closed loop, paced,
// percentiles) is bench/load.ts.

import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, closeSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { LoadResult } from './load.ts'
import type { BenchDevice, ServerReady } from './server.ts'
import { countAsOwn, procStat, serverStdout, traceEnv } from './trace.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

export type Engine = 'pglite' | 'postgres'

// --- the environment ---------------------------------------------------------------------------

/** Positive numbers (and whole ones) from BENCH_* variables, with their defaults. */
export function envNumbers(env: NodeJS.ProcessEnv) {
  const num = (name: string, fallback: number): number => {
    const v = env[name]
    if (v === undefined || v === '') return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number`)
    return n
  }
  const int = (name: string, fallback: number): number => {
    const n = num(name, fallback)
    if (!Number.isInteger(n)) throw new Error(`${name}: expected a whole number`)
    return n
  }
  return { num, int }
}

// --- output ------------------------------------------------------------------------------------

/** Progress on stderr, tagged with the bench's name. */
export const logger =
  (bench: string) =>
  (message: string): void => {
    process.stderr.write(`[bench ${bench}] ${message}\n`)
  }

export type Emit = (line: Record<string, unknown>) => void

/** One JSON line on stdout per call (`bench` first), also appended to `out` when set. */
export function emitter(bench: string, out: string | undefined): Emit {
  return (line) => {
    const text = JSON.stringify({ bench, ...line })
    process.stdout.write(`${text}\n`)
    if (out) appendFileSync(out, `${text}\n`)
  }
}

export const round = (n: number, digits = 0): number | null =>
  Number.isFinite(n) ? Number(n.toFixed(digits)) : null

/** perRequest: readings a request carries (ingestion), or undefined (no readings/s reported). */
export const summary = (r: LoadResult, perRequest?: number) => ({
  requestsPerSecond: round(r.requestsPerSecond),
  ...(perRequest !== undefined ? { readingsPerSecond: round(r.requestsPerSecond * perRequest) } : {}),
  p50Ms: round(r.p50Ms, 2),
  p99Ms: round(r.p99Ms, 2),
  maxMs: round(r.maxMs, 2),
  requests: r.requests,
  errors: r.errors,
  ...(r.errors > 0 ? { unexpected: r.unexpected, sampleError: r.sampleError } : {}),
  ...(r.otherProcesses ? { otherProcesses: r.otherProcesses } : {}),
})

// --- goals -------------------------------------------------------------------------------------

export interface Check {
  readonly measure: string
  readonly comparison: '>=' | '<='
  readonly target: number
  readonly figure: number | null
  readonly met: boolean | null
}

/** A figure against its target; `met` is null when the figure was not measured. */
export const check = (
  measure: string,
  comparison: '>=' | '<=',
  target: number,
  figure: number | undefined,
  digits = 3,
): Check => {
  const f = figure === undefined || !Number.isFinite(figure) ? null : Number(figure.toFixed(digits))
  return {
    measure,
    comparison,
    target,
    figure: f,
    met: f === null ? null : comparison === '>=' ? f >= target : f <= target,
  }
}

/**
 * One `goal` line: `met` is every check met (null when one was not measured, then `why` is
 * `notMeasured`); `applies` is false, with `why`, when the run's conditions are not the goal's.
 */
export function goalLine(g: {
  readonly engine: Engine
  readonly goal: number
  readonly title: string
  readonly checks: readonly Check[]
  /** Why the run's conditions are not the goal's (undefined: they are). */
  readonly why: string | undefined
  readonly notMeasured: string
  /** Fields placed before `goal` (e.g. the issue). */
  readonly head?: Record<string, unknown>
  /** Figures reported with the goal, without a target. */
  readonly reported?: Record<string, unknown>
}): Record<string, unknown> {
  const met = g.checks.some((c) => c.met === null) ? null : g.checks.every((c) => c.met === true)
  const reason = met === null ? g.notMeasured : g.why
  return {
    kind: 'goal',
    engine: g.engine,
    ...g.head,
    goal: g.goal,
    title: g.title,
    met,
    applies: reason === undefined,
    ...(reason !== undefined ? { why: reason } : {}),
    checks: g.checks,
    ...g.reported,
  }
}

// --- the run's PostgreSQL database ---------------------------------------------------------------

async function adminQuery(baseUrl: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: baseUrl })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

/** A database of the run's own on the server DATABASE_URL names (`vigil_bench_<random>`), dropped by `drop`. */
export async function createRunDatabase(
  baseUrl: string,
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `vigil_bench_${randomBytes(5).toString('hex')}`
  await adminQuery(baseUrl, `CREATE DATABASE ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    drop: () => adminQuery(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}

// --- CPU accounting (Linux /proc; absent elsewhere) ----------------------------------------------

function procCpuMs(pid: number | string): number {
  return procStat(pid)?.ms ?? NaN
}

export type CpuSnapshot = { server: number; postgres: Map<string, number>; runner: number }

/** CPU time so far of the server process, of the PostgreSQL backends serving `database`, and of this process. */
export function cpuSnapshot(serverPid: number, database: string | undefined): CpuSnapshot {
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

/** CPU milliseconds used between two snapshots, by process (PostgreSQL's absent when not measured). */
export type CpuUsed = {
  readonly server: number
  readonly postgres: number | undefined
  readonly runner: number
}

export function cpuUsed(before: CpuSnapshot, after: CpuSnapshot): CpuUsed {
  let pgMs = 0
  for (const [pid, ms] of after.postgres) pgMs += ms - (before.postgres.get(pid) ?? 0)
  return {
    server: after.server - before.server,
    postgres: after.postgres.size > 0 ? pgMs : undefined,
    runner: after.runner - before.runner,
  }
}

/** The CPU of several measured stretches, added up. */
export function addCpu(parts: readonly CpuUsed[]): CpuUsed {
  const sum = (f: (u: CpuUsed) => number) => parts.reduce((n, u) => n + f(u), 0)
  return {
    server: sum((u) => u.server),
    postgres: parts.every((u) => u.postgres !== undefined) ? sum((u) => u.postgres ?? 0) : undefined,
    runner: sum((u) => u.runner),
  }
}

/** CPU milliseconds per request, by process. */
export function perRequestCpu(used: CpuUsed, requests: number) {
  const per = (ms: number) =>
    Number.isFinite(ms) && requests > 0 ? Number((ms / requests).toFixed(3)) : null
  return {
    serverMs: per(used.server),
    ...(used.postgres !== undefined ? { postgresMs: per(used.postgres) } : {}),
    runnerMs: per(used.runner),
  }
}

/** CPU milliseconds per request between two snapshots, by process. */
export function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number) {
  return perRequestCpu(cpuUsed(before, after), requests)
}

// --- the server process --------------------------------------------------------------------------

export interface RunningServer {
  readonly ready: ServerReady
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** bench/server.ts in a child process of its own, with `env` as its whole environment (and the
 *  trace directory, when tracing); resolves once it is ready. */
export async function startServer(
  options: { readonly serverNodeOptions: string },
  env: Record<string, string>,
): Promise<RunningServer> {
  const stdout = serverStdout()
  const child = fork(path.join(ROOT, 'bench/server.ts'), [], {
    cwd: ROOT,
    env: { ...env, ...traceEnv() },
    execArgv: ['--import', 'tsx', ...options.serverNodeOptions.split(/\s+/).filter(Boolean)],
    // The server's JSON log goes nowhere (it is written all the same, as in production), or to the
    // trace directory (bench/trace.ts).
    stdio: ['ignore', stdout, 'pipe', 'ipc'],
  })
  if (typeof stdout === 'number') closeSync(stdout) // the child has its own
  countAsOwn(child.pid)
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the bench server did not start in 180 s\n${stderr}`)),
      180_000,
    )
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

/** A real access token from the token endpoint: client credentials, client_secret_basic. */
export async function deviceToken(
  baseUrl: string,
  device: Pick<BenchDevice, 'clientId' | 'clientSecret'>,
  scope = 'device-data:write',
): Promise<string> {
  const meta = (await (await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)).json()) as {
    token_endpoint: string
  }
  const basic = Buffer.from(
    `${encodeURIComponent(device.clientId)}:${encodeURIComponent(device.clientSecret)}`,
  ).toString('base64')
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  })
  const body = (await res.json()) as { access_token?: string; error?: string }
  if (!res.ok || !body.access_token)
    throw new Error(`token endpoint answered ${res.status} ${body.error ?? ''} for ${device.clientId}`)
  return body.access_token
}
