// Sets a traced bench run's stalls side by side (bench/trace.ts; docs/performance.md, run 19):
//   node --import tsx bench/trace-report.ts DIR
// For every paced request slower than the threshold, from the runner's and the server's lines with
// the same request id, it splits the latency in three:
//   before  from its scheduled time to the moment Fastify saw it (the runner sending late, the
//           kernel, or the server's event loop busy with something else),
//   server  the time Fastify saw it take (routing, hooks, handler, the database),
//   after   from the server's completion to the runner reading the answer;
// and counts the late timer turns and long collections of each process that overlap it. Then the
// clusters (slow requests less than a second apart), the slowest first.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MACHINE_WINDOW_MS } from './trace.ts'

interface Slow {
  readonly at: number
  readonly latency: number
  readonly id: string
}
interface Seen {
  readonly end: number
  readonly ms: number
}
interface LoopEvent {
  readonly role: string
  readonly end: number
  /** lag, gc (a process's loop), or foreign (the rest of the machine, over a window). */
  readonly kind: string
  readonly ms: number
  readonly detail?: string
}
export interface Split {
  readonly slow: Slow
  readonly before: number
  readonly server: number
  readonly after: number
  readonly events: readonly LoopEvent[]
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
}

function read(dir: string) {
  const slow: Slow[] = []
  const seen = new Map<string, Seen>()
  const loop: LoopEvent[] = []
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name)
    if (name.startsWith('slow-')) {
      for (const l of lines(file)) {
        const [at, latency, id] = l.split(' ')
        slow.push({ at: Number(at), latency: Number(latency), id: id as string })
      }
    } else if (name.startsWith('server-')) {
      for (const l of lines(file)) {
        if (!l.startsWith('{')) continue
        // The log's time is an ISO string to the millisecond (src/platform/observability/logger.ts).
        const e = JSON.parse(l) as { requestId?: string; time?: string; responseTime?: number }
        if (e.requestId?.startsWith('bench-') && e.time !== undefined && e.responseTime !== undefined)
          seen.set(e.requestId, { end: Date.parse(e.time), ms: e.responseTime })
      }
    } else if (name.startsWith('loop-') || name.startsWith('machine-')) {
      const role = name.startsWith('machine-') ? 'machine' : (name.split('-')[1] as string)
      for (const l of lines(file)) {
        const [end, kind, ms, ...detail] = l.split(' ')
        if (kind === 'clock' || kind === undefined) continue
        loop.push({ role, end: Number(end), kind, ms: Number(ms), detail: detail.join(' ') })
      }
    }
  }
  return { slow: slow.sort((a, b) => a.at - b.at), seen, loop }
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

function describe(events: readonly LoopEvent[]): string {
  const by = new Map<string, LoopEvent>()
  for (const e of events) {
    const k = `${e.role} ${e.kind}`
    const was = by.get(k)
    if (!was || e.ms > was.ms) by.set(k, e)
  }
  return (
    [...by]
      .map(([k, e]) => `${k} ${e.ms}${e.kind === 'foreign' ? ` (${e.detail?.split(' ')[0] ?? ''})` : ''}`)
      .join(', ') || '-'
  )
}

/** Every slow request of a trace directory, split in three, with the loop events that overlap it. */
export function splitStalls(dir: string): {
  slow: number
  unmatched: number
  splits: Split[]
  /** Every kind of loop event the trace holds (`role kind`), overlapping or not. */
  kinds: string[]
} {
  const { slow, seen, loop } = read(dir)
  const splits: Split[] = []
  let unmatched = 0
  for (const s of slow) {
    const server = seen.get(s.id)
    if (!server) {
      unmatched++
      continue
    }
    const done = s.at + s.latency
    const serverStart = server.end - server.ms
    splits.push({
      slow: s,
      before: serverStart - s.at,
      server: server.ms,
      after: done - server.end,
      // An event overlaps when it ended inside the request's time, or ended after and began before
      // its end (a foreign window spans MACHINE_WINDOW_MS, whatever CPU it counted).
      events: loop.filter(
        (e) => e.end >= s.at && e.end - (e.kind === 'foreign' ? MACHINE_WINDOW_MS : e.ms) <= done,
      ),
    })
  }
  return { slow: slow.length, unmatched, splits, kinds: [...new Set(loop.map((e) => `${e.role} ${e.kind}`))] }
}

/** The report, as text. */
export function stallReport(dir: string): string {
  const { slow, unmatched, splits, kinds } = splitStalls(dir)
  const largest = (x: Split) =>
    x.server >= x.before && x.server >= x.after ? 'server' : x.before >= x.after ? 'before' : 'after'
  const count = (f: (x: Split) => boolean) => splits.filter(f).length
  const out: string[] = []
  out.push(`${slow} slow requests (${unmatched} without a server line)`)
  out.push(
    `median ms: before ${median(splits.map((x) => x.before)).toFixed(1)}, server ${median(splits.map((x) => x.server)).toFixed(1)}, after ${median(splits.map((x) => x.after)).toFixed(1)}`,
  )
  out.push(
    `largest part: before ${count((x) => largest(x) === 'before')}, server ${count((x) => largest(x) === 'server')}, after ${count((x) => largest(x) === 'after')}`,
  )
  for (const key of kinds)
    out.push(`overlapping a ${key}: ${count((x) => x.events.some((e) => `${e.role} ${e.kind}` === key))}`)
  // Clusters: slow requests less than a second apart.
  const clusters: Split[][] = []
  for (const x of splits) {
    const last = clusters.at(-1)
    const prev = last?.at(-1)
    if (last && prev && x.slow.at - prev.slow.at < 1000) last.push(x)
    else clusters.push([x])
  }
  out.push(`${clusters.length} clusters; the slowest 20:`)
  out.push('start (UTC)              n  max ms  before  server  after  loop events (max ms)')
  const worst = [...clusters]
    .sort((a, b) => Math.max(...b.map((x) => x.slow.latency)) - Math.max(...a.map((x) => x.slow.latency)))
    .slice(0, 20)
  for (const c of worst) {
    const top = c.reduce((a, b) => (b.slow.latency > a.slow.latency ? b : a))
    const events = c.flatMap((x) => x.events)
    out.push(
      [
        new Date((c[0] as Split).slow.at).toISOString(),
        String(c.length).padStart(3),
        String(top.slow.latency).padStart(6),
        top.before.toFixed(0).padStart(6),
        top.server.toFixed(0).padStart(6),
        top.after.toFixed(0).padStart(6),
        ` ${describe([...new Set(events)])}`,
      ].join(' '),
    )
  }
  return `${out.join('\n')}\n`
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2]
  if (!dir) {
    process.stderr.write('usage: node --import tsx bench/trace-report.ts DIR\n')
    process.exit(64)
  }
  process.stdout.write(stallReport(dir))
}
