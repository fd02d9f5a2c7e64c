// Stall tracing and the machine watch for the benchmarks (issue 17; docs/performance.md, run 19).
//
// The machine watch runs in every paced run on Linux: the CPU the processes that are not the
// bench's own (not the runner, a server it started, PostgreSQL) used meanwhile, reported with the
// run's latencies (`otherProcesses`), so that a p99 taken while something else held a core can be
// told from the server's own.
//
// The trace, with BENCH_TRACE_DIR set: each process of a run writes what it saw into that
// directory, one line per event, times in epoch milliseconds, so that the processes' lines can be
// set side by side (bench/trace-report.ts):
//   - slow-<pid>.log    (runner) every paced request slower than BENCH_TRACE_SLOW_MS (default 40):
//                       its scheduled time, its latency and its request id, sent as x-request-id so
//                       that the server's request log line carries the same id;
//   - server-<pid>-<n>.log  (each server) the server's own JSON log: its request log line has the
//                       request id, the completion time and the time Fastify saw the request take;
//   - loop-<role>-<pid>.log  (runner and servers) first the monotonic clock's microseconds at an
//                       epoch time (`clock`: V8's CPU profiles are stamped with that clock, so a
//                       --cpu-prof profile's samples can be set beside the rest); then every timer
//                       turn more than LOOP_LATE_MS late (`lag`) and every garbage collection longer
//                       than GC_LONG_MS (`gc`, with its kind: minor, major, …): the time it ended,
//                       its kind and its milliseconds;
//   - machine-<pid>.log (runner) every window of the machine watch in which the other processes
//                       used more than half a core: its end, `foreign`, their CPU milliseconds and
//                       the three that used most (name:pid:ms).
// Without BENCH_TRACE_DIR nothing is written, and the requests carry no x-request-id.

import fs from 'node:fs'
import path from 'node:path'
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { envNumbers } from './support.ts'

/** The machine watch's window. */
export const MACHINE_WINDOW_MS = 200
const LOOP_TICK_MS = 5
const LOOP_LATE_MS = 20
const GC_LONG_MS = 10
const TICK_MS = 10 // USER_HZ is 100 on Linux

const traceDir = (): string | undefined => process.env.BENCH_TRACE_DIR || undefined
// Checked like every BENCH_* number: a value that is not one would otherwise write no slow request.
const slowMs = (): number => envNumbers(process.env).num('BENCH_TRACE_SLOW_MS', 40)

const files = new Map<string, number>()

/** A line writer for a file of the trace directory, opened once for the process. */
function appender(dir: string, name: string): (line: string) => void {
  const file = path.join(dir, name)
  let fd = files.get(file)
  if (fd === undefined) {
    fs.mkdirSync(dir, { recursive: true })
    fd = fs.openSync(file, 'a')
    files.set(file, fd)
  }
  const open = fd
  // Synchronous and rare (only stalls are written), so the order of lines is the order of events.
  return (line) => fs.writeSync(open, `${line}\n`)
}

// --- the machine watch ---------------------------------------------------------------------------

/** The pids the bench started (its servers): the machine watch counts their CPU as the bench's own. */
const own = new Set<number>()
export function countAsOwn(pid: number | undefined): void {
  if (pid !== undefined) own.add(pid)
}

/** A process's name and CPU milliseconds so far (user and system), from its /proc stat line. */
function parseStat(stat: string): { name: string; ms: number } {
  const close = stat.lastIndexOf(')')
  const fields = stat.slice(close + 2).split(' ')
  return {
    name: stat.slice(stat.indexOf('(') + 1, close).replace(/\s/g, '_'),
    ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS, // utime, stime
  }
}

/** A process's name and CPU milliseconds so far, from /proc; undefined when gone. */
export function procStat(pid: number | string): { name: string; ms: number } | undefined {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined // exited, or not Linux
  }
}

/**
 * The CPU so far of every process, by pid, with its name: a reader that keeps each process's stat
 * file open and reads it again in place (one system call a process, where opening it each time
 * took four: the watch runs beside every paced measurement). `close` closes them all.
 */
function processesReader(): { read(): Map<number, { name: string; ms: number }>; close(): void } {
  const open = new Map<number, number>()
  const buf = Buffer.alloc(1024) // a stat line is under 400 bytes
  const forget = (pid: number, fd: number) => {
    fs.closeSync(fd)
    open.delete(pid)
  }
  return {
    read() {
      const all = new Map<number, { name: string; ms: number }>()
      const listed = new Set<number>()
      for (const entry of fs.readdirSync('/proc')) if (/^\d+$/.test(entry)) listed.add(Number(entry))
      for (const [pid, fd] of open) if (!listed.has(pid)) forget(pid, fd)
      for (const pid of listed) {
        let fd = open.get(pid)
        try {
          if (fd === undefined) {
            fd = fs.openSync(`/proc/${pid}/stat`, 'r')
            open.set(pid, fd)
          }
          const n = fs.readSync(fd, buf, 0, buf.length, 0)
          all.set(pid, parseStat(buf.toString('latin1', 0, n)))
        } catch {
          if (fd !== undefined) forget(pid, fd) // exited since the listing
        }
      }
      return all
    },
    close() {
      for (const [pid, fd] of open) forget(pid, fd)
    },
  }
}

/** One window of the machine watch: the CPU the other processes used in it, and by whom. */
export interface OtherWindow {
  readonly end: number
  readonly ms: number
  /** Every process that used CPU in it, the most first. */
  readonly processes: readonly { readonly name: string; readonly pid: number; readonly ms: number }[]
}

/**
 * Calls `each` every MACHINE_WINDOW_MS with the CPU used in that window by the processes that are
 * not the bench's own (this process, the pids given to countAsOwn, PostgreSQL's); returns the stop.
 * Read from /proc (a hundred or so small files a window); a no-op elsewhere.
 */
export function watchOtherProcesses(each: (w: OtherWindow) => void): () => void {
  if (!fs.existsSync('/proc/self/stat')) return () => {}
  const processes = processesReader()
  let before = processes.read()
  const timer = setInterval(() => {
    const now = processes.read()
    const used: { name: string; pid: number; ms: number }[] = []
    for (const [pid, p] of now) {
      if (pid === process.pid || own.has(pid) || p.name === 'postgres') continue
      const ms = p.ms - (before.get(pid)?.ms ?? 0)
      if (ms > 0) used.push({ name: p.name, pid, ms })
    }
    before = now
    used.sort((a, b) => b.ms - a.ms)
    each({ end: Date.now(), ms: used.reduce((n, u) => n + u.ms, 0), processes: used })
  }, MACHINE_WINDOW_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    processes.close()
  }
}

// --- the trace -----------------------------------------------------------------------------------

/** Starts this process's loop and GC trace (and, in the runner, the machine's), when tracing. */
export function traceLoop(role: 'runner' | 'server'): void {
  const dir = traceDir()
  if (!dir) return
  if (role === 'runner') slowMs() // refused at the start, not after a load of minutes
  const write = appender(dir, `loop-${role}-${process.pid}.log`)
  write(`${Date.now()} clock ${Number(process.hrtime.bigint() / 1000n)}`)
  let due = performance.now() + LOOP_TICK_MS
  setInterval(() => {
    const now = performance.now()
    const late = now - due
    if (late > LOOP_LATE_MS) write(`${Math.round(performance.timeOrigin + now)} lag ${Math.round(late)}`)
    due = now + LOOP_TICK_MS
  }, LOOP_TICK_MS).unref()
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.duration > GC_LONG_MS)
        write(
          `${Math.round(performance.timeOrigin + e.startTime + e.duration)} gc ${Math.round(e.duration)} ${gcKind((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind)}`,
        )
  }).observe({ entryTypes: ['gc'] })
  if (role === 'runner') {
    const machine = appender(dir, `machine-${process.pid}.log`)
    watchOtherProcesses((w) => {
      if (w.ms > MACHINE_WINDOW_MS / 2)
        machine(
          `${w.end} foreign ${w.ms} ${w.processes
            .slice(0, 3)
            .map((u) => `${u.name}:${u.pid}:${u.ms}`)
            .join(' ')}`,
        )
    })
  }
}

function gcKind(kind: number | undefined): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return 'minor'
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'major'
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental'
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weakcb'
    default:
      return 'other'
  }
}

let pacedRuns = 0

/** For one paced run, when tracing: the request id to send with request `i`, and the recorder of slow answers. */
export function pacedTrace():
  | {
      readonly requestId: (i: number) => string
      readonly answered: (i: number, scheduled: number, latency: number) => void
    }
  | undefined {
  const dir = traceDir()
  if (!dir) return undefined
  const slow = slowMs()
  const write = appender(dir, `slow-${process.pid}.log`)
  const run = ++pacedRuns
  const requestId = (i: number) => `bench-${process.pid}-${run}-${i}`
  return {
    requestId,
    answered(i, scheduled, latency) {
      if (latency > slow)
        write(`${Math.round(performance.timeOrigin + scheduled)} ${Math.round(latency)} ${requestId(i)}`)
    },
  }
}

let serverLogs = 0

/** What a server child's environment needs to trace too (every runner's servers, through startServer). */
export function traceEnv(): Record<string, string> {
  const dir = traceDir()
  return dir ? { BENCH_TRACE_DIR: dir } : {}
}

/** Where a server child's standard output goes: a new log file in the trace directory (its
 *  descriptor, for the caller to close once the child has it), or nowhere. */
export function serverStdout(): 'ignore' | number {
  const dir = traceDir()
  if (!dir) return 'ignore'
  fs.mkdirSync(dir, { recursive: true })
  return fs.openSync(path.join(dir, `server-${process.pid}-${++serverLogs}.log`), 'a')
}
