// HTTP load for the benchmarks, from the runner's own process: node:http with keep-alive
// connections (lighter on the shared CPU than fetch), two modes:
//   - closed loop: `concurrency` workers, each sending its next request when the last answered,
//     for a fixed time — the maximum throughput;
//   - paced (open loop): requests scheduled at a fixed rate, each latency measured from its
//     scheduled time (so a stall that delays later requests counts against them too — no
//     coordinated omission), over as many connections as needed. autocannon's fixed-rate mode sends
//     a second's requests in a burst and inflates p99; this does not.

import http from 'node:http'
import { pacedTrace, watchOtherProcesses } from './trace.ts'

export interface Request {
  /** POST (default) with `body` as JSON, or GET without a body. */
  readonly method?: 'GET' | 'POST'
  readonly path: string
  readonly body: string
  readonly headers?: Record<string, string>
  /** The body's media type (default application/json). */
  readonly contentType?: string
}

export interface LoadResult {
  readonly requests: number
  readonly errors: number
  /** Status codes other than the expected ones, with a sample problem body. */
  readonly unexpected: Record<string, number>
  readonly sampleError?: string
  readonly seconds: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Every latency, ascending (for `combine`; not printed). */
  readonly latencies: readonly number[]
  /** Paced runs: what the machine's other processes took meanwhile (bench/trace.ts). */
  readonly otherProcesses?: OtherProcesses
}

/**
 * The CPU the machine's other processes (not the runner, a server, PostgreSQL) used during a paced
 * run: in all, and in its busiest window of MACHINE_WINDOW_MS (200 ms), with the process that used
 * most in that window. A p99 measured while something else took a core is the machine's, not the
 * server's (docs/performance.md, run 19).
 */
export interface OtherProcesses {
  readonly cpuMs: number
  readonly peakWindowMs: number
  readonly peakBy: string
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

export class Client {
  private readonly agent: http.Agent
  constructor(
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  }

  send(req: Request): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const r = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: req.method ?? 'POST',
          path: req.path,
          agent: this.agent,
          headers:
            req.method === 'GET'
              ? { ...req.headers }
              : {
                  'content-type': req.contentType ?? 'application/json',
                  'content-length': Buffer.byteLength(req.body),
                  ...req.headers,
                },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          )
          res.on('error', reject)
        },
      )
      r.on('error', reject)
      if (req.method === 'GET') r.end()
      else r.end(req.body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

class Recorder {
  readonly latencies: number[] = []
  errors = 0
  readonly unexpected: Record<string, number> = {}
  sampleError: string | undefined
  constructor(private readonly ok: readonly number[]) {}
  record(status: number, body: string, ms: number): void {
    this.latencies.push(ms)
    if (!this.ok.includes(status)) {
      this.errors++
      this.unexpected[String(status)] = (this.unexpected[String(status)] ?? 0) + 1
      // Problem bodies carry no PHI (never a value); keep one for the report.
      this.sampleError ??= body.slice(0, 300)
    }
  }
  failed(err: unknown, ms: number): void {
    this.latencies.push(ms)
    this.errors++
    this.unexpected.network = (this.unexpected.network ?? 0) + 1
    this.sampleError ??= err instanceof Error ? err.message : String(err)
  }
  result(seconds: number): LoadResult {
    return loadResult(this.latencies, this.errors, this.unexpected, this.sampleError, seconds)
  }
}

function loadResult(
  latencies: readonly number[],
  errors: number,
  unexpected: Record<string, number>,
  sampleError: string | undefined,
  seconds: number,
): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    requests: sorted.length,
    errors,
    unexpected,
    ...(sampleError !== undefined ? { sampleError } : {}),
    seconds,
    requestsPerSecond: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    latencies: sorted,
  }
}

/**
 * Several runs of one load as one: requests and seconds summed (so requests per second is over
 * the time actually measured), percentiles over every latency, errors added up.
 */
export function combine(results: readonly LoadResult[]): LoadResult {
  const unexpected: Record<string, number> = {}
  for (const r of results)
    for (const [status, n] of Object.entries(r.unexpected)) unexpected[status] = (unexpected[status] ?? 0) + n
  const combined = loadResult(
    results.flatMap((r) => r.latencies),
    results.reduce((n, r) => n + r.errors, 0),
    unexpected,
    results.find((r) => r.sampleError !== undefined)?.sampleError,
    results.reduce((n, r) => n + r.seconds, 0),
  )
  const otherProcesses = mergeOtherProcesses(results.flatMap((r) => r.otherProcesses ?? []))
  return otherProcesses ? { ...combined, otherProcesses } : combined
}

/** Several stretches' figures as one: CPU added up, the busiest window kept; undefined for none. */
function mergeOtherProcesses(parts: readonly OtherProcesses[]): OtherProcesses | undefined {
  if (parts.length === 0) return undefined
  const peak = parts.reduce((a, b) => (b.peakWindowMs > a.peakWindowMs ? b : a))
  return { ...peak, cpuMs: parts.reduce((n, w) => n + w.cpuMs, 0) }
}

/** `concurrency` workers back to back for `seconds`; make(i) builds the i-th request; `answered` (optional) sees each answer. */
export async function closedLoop(
  client: Client,
  options: {
    concurrency: number
    seconds: number
    ok: readonly number[]
    make: (i: number) => Request
    answered?: (i: number, status: number, body: string) => void
  },
): Promise<LoadResult> {
  const rec = new Recorder(options.ok)
  let next = 0
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = next++
        const req = options.make(i)
        const t0 = performance.now()
        try {
          const res = await client.send(req)
          rec.record(res.status, res.body, performance.now() - t0)
          options.answered?.(i, res.status, res.body)
        } catch (err) {
          rec.failed(err, performance.now() - t0)
        }
      }
    }),
  )
  return rec.result((performance.now() - started) / 1000)
}

/**
 * Requests at `rate` per second for `seconds`, each timed from its scheduled send time;
 * `answered` (optional) sees each answer with that time (performance.now() clock).
 */
export async function paced(
  client: Client,
  options: {
    rate: number
    seconds: number
    ok: readonly number[]
    make: (i: number) => Request
    answered?: (i: number, status: number, body: string, scheduledAt: number) => void
  },
): Promise<LoadResult> {
  const rec = new Recorder(options.ok)
  const total = Math.max(1, Math.round(options.rate * options.seconds))
  const interval = 1000 / options.rate
  const inflight = new Set<Promise<void>>()
  const trace = pacedTrace()
  // Each window of the machine watch as a stretch of its own, merged at the end like rounds.
  const windows: OtherProcesses[] = []
  const stopWatch = watchOtherProcesses((w) =>
    windows.push({ cpuMs: w.ms, peakWindowMs: w.ms, peakBy: w.processes[0]?.name ?? '' }),
  )
  const started = performance.now()
  let sent = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      while (sent < total && started + sent * interval <= now) {
        const scheduled = started + sent * interval
        const i = sent++
        const made = options.make(i)
        const req = trace
          ? { ...made, headers: { ...made.headers, 'x-request-id': trace.requestId(i) } }
          : made
        const p: Promise<void> = client
          .send(req)
          .then(
            (res) => {
              const latency = performance.now() - scheduled
              rec.record(res.status, res.body, latency)
              trace?.answered(i, scheduled, latency)
              options.answered?.(i, res.status, res.body, scheduled)
            },
            (err: unknown) => rec.failed(err, performance.now() - scheduled),
          )
          .finally(() => inflight.delete(p))
        inflight.add(p)
      }
      if (sent >= total) return resolve()
      // Wake up for the next scheduled request (timers fire no sooner than 1 ms).
      setTimeout(tick, Math.max(0, started + sent * interval - performance.now()))
    }
    tick()
  })
  await Promise.all([...inflight])
  stopWatch()
  const result = rec.result((performance.now() - started) / 1000)
  const otherProcesses = mergeOtherProcesses(windows)
  return otherProcesses ? { ...result, otherProcesses } : result
}
