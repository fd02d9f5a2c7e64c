// Helpers for integration tests that run the real `vigil` process (src/main.ts, the CLI, npm):
// an explicit environment, JSON log capture, and waits that are always bounded by a timeout.
// Not a test file itself (the runner collects *.test.ts only).

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { TEST_COOKIE_SECRET, TEST_KEYRING } from '../support/config.ts'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** PGlite's first start in a fresh directory takes ~5 s on a 2-core machine; be generous. */
export const START_TIMEOUT_MS = 60_000

export type Env = Record<string, string>
export type LogEntry = Record<string, unknown>

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `vigil-${prefix}-`))
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true })
}

/**
 * The environment for a child process, built explicitly: nothing of the test runner's leaks in
 * except PATH and HOME (npm and tsx need them). DATABASE_URL and REDIS_URL are passed through only
 * when `externalServices` is true, so PGlite-specific tests stay on the embedded database.
 */
export function childEnv(
  dataDir: string,
  overrides: Record<string, string | undefined> = {},
  options: { externalServices?: boolean } = {},
): Env {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'info',
    // All test traffic comes from 127.0.0.1; the limit itself is tested in rate-limit.test.ts.
    RATE_LIMIT_PER_MINUTE: '0',
    // Load and fault tests post as one device for longer than a minute on a fast machine; the
    // per-device limit (600 a minute by default) is tested in device-data-ingest.test.ts. In one CI
    // run it answered 429 to the kill -9 tests' retries (783 posts in a minute), failing two tests
    // about durability.
    DEVICE_RATE_LIMIT_PER_MINUTE: '0',
  }
  if (options.externalServices) {
    env.DATABASE_URL = process.env.DATABASE_URL
    env.REDIS_URL = process.env.REDIS_URL
    // A shared database holds secrets sealed by the suite's keyring (signing keys, clients):
    // every process on it must hold that keyring, as every instance of a deployment does.
    if (process.env.DATABASE_URL) {
      env.ENCRYPTION_KEYRING = TEST_KEYRING
      env.COOKIE_SECRET = TEST_COOKIE_SECRET
    }
  }
  Object.assign(env, overrides)
  const out: Env = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

function parseLine(line: string): LogEntry | undefined {
  try {
    const value = JSON.parse(line) as unknown
    return typeof value === 'object' && value !== null ? (value as LogEntry) : undefined
  } catch {
    return undefined
  }
}

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A child process with its output captured and bounded waits on it. */
export class Proc {
  readonly child: ChildProcess
  readonly pid: number
  stdout = ''
  stderr = ''
  exit: Exit | undefined
  private readonly waiters = new Set<() => void>()

  constructor(command: string, args: readonly string[], options: { env: Env; cwd?: string }) {
    // detached: the child leads its own process group, so a timed-out `npm start` can be ended
    // with its tsx/node children by signalling that group (and nothing else).
    this.child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    if (this.child.pid === undefined) throw new Error(`could not spawn ${command}`)
    this.pid = this.child.pid
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
      this.notify()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
      this.notify()
    })
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal }
      this.notify()
    })
  }

  get running(): boolean {
    return this.exit === undefined
  }

  /** Parsed JSON log lines written so far on stdout. */
  entries(): LogEntry[] {
    return this.stdout
      .split('\n')
      .map(parseLine)
      .filter((e): e is LogEntry => e !== undefined)
  }

  private notify(): void {
    for (const w of [...this.waiters]) w()
  }

  /** Resolves when check() returns a value; rejects after timeoutMs (with the output so far). */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(poll)
      }
      const poll = (): void => {
        let value: T | undefined
        try {
          value = check()
        } catch (err) {
          done()
          reject(err as Error)
          return
        }
        if (value !== undefined) {
          done()
          resolve(value)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`,
          ),
        )
      }, timeoutMs)
      this.waiters.add(poll)
      poll()
    })
  }

  waitForLog(
    what: string,
    predicate: (e: LogEntry) => boolean,
    timeoutMs = START_TIMEOUT_MS,
  ): Promise<LogEntry> {
    return this.waitFor(`log line: ${what}`, () => this.entries().find(predicate), timeoutMs)
  }

  waitForExit(timeoutMs = START_TIMEOUT_MS): Promise<Exit> {
    return this.waitFor('process exit', () => this.exit, timeoutMs)
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }

  /** Ends the child and any children it started (its own process group); safe to call twice. */
  async kill(): Promise<void> {
    if (!this.running) return
    try {
      process.kill(-this.pid, 'SIGKILL')
    } catch {
      this.child.kill('SIGKILL')
    }
    await this.waitForExit(10_000).catch(() => undefined)
  }
}

/** Runs a command to completion (bounded) and returns its exit and output. */
export async function run(
  command: string,
  args: readonly string[],
  options: { env: Env; cwd?: string; timeoutMs?: number },
): Promise<Exit & { stdout: string; stderr: string }> {
  const proc = new Proc(command, args, options)
  try {
    const exit = await proc.waitForExit(options.timeoutMs ?? START_TIMEOUT_MS)
    return { ...exit, stdout: proc.stdout, stderr: proc.stderr }
  } finally {
    await proc.kill()
  }
}

export const SERVER_ARGS = ['--import', 'tsx', 'src/main.ts'] as const
export const CLI_ARGS = ['--import', 'tsx', 'src/cli/main.ts'] as const

/** `node --import tsx src/main.ts`: the server process, exactly as `npm start` runs it. */
export function spawnServer(env: Env): Proc {
  return new Proc(process.execPath, SERVER_ARGS, { env })
}

export interface Serving {
  readonly proc: Proc
  /** The real base URL from the "vigil is serving" log line (PORT=0 picks a free port). */
  readonly address: string
}

/** Spawns the server and waits for "vigil is serving"; kills it if that never comes. */
export async function startServer(env: Env, timeoutMs = START_TIMEOUT_MS): Promise<Serving> {
  const proc = spawnServer(env)
  try {
    const line = await proc.waitFor(
      '"vigil is serving"',
      () => {
        if (!proc.running)
          throw new Error(
            `server exited early (${JSON.stringify(proc.exit)})\n--- stdout\n${proc.stdout}\n--- stderr\n${proc.stderr}`,
          )
        return proc.entries().find((e) => e.msg === 'vigil is serving')
      },
      timeoutMs,
    )
    if (typeof line.address !== 'string') throw new Error(`no address in ${JSON.stringify(line)}`)
    return { proc, address: line.address }
  } catch (err) {
    await proc.kill()
    throw err
  }
}

/** SIGTERM and wait (bounded) for the exit. */
export async function stopServer(proc: Proc, timeoutMs = 30_000): Promise<Exit> {
  proc.signal('SIGTERM')
  return proc.waitForExit(timeoutMs)
}

/** fetch with a deadline. */
export function get(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
}

/** Polls fn until it returns a value; rejects after timeoutMs. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
