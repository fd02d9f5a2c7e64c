// The benchmarks' stall tooling (bench/trace.ts, bench/trace-report.ts; docs/performance.md, run
// 19): the machine watch that every paced run reports (`otherProcesses`), and the trace that
// BENCH_TRACE_DIR turns on, read back by the report, against a real server and real processes.
// What a run's figures mean is `npm run bench`'s business, not a test's: these check that the tools
// see what is there. The machine watch reads /proc: Linux, where the product and its CI run.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { Client, combine, paced, type Request } from '../../bench/load.ts'
import { splitStalls, stallReport } from '../../bench/trace-report.ts'
import {
  countAsOwn,
  MACHINE_WINDOW_MS,
  pacedTrace,
  traceLoop,
  watchOtherProcesses,
  type OtherWindow,
} from '../../bench/trace.ts'
import { createTestApp } from '../support/app.ts'

const get = (p: string): Request => ({ method: 'GET', path: p, body: '' })

/** A process that spins a core until killed. */
function burner(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

test('[SRS-PERF-607] the machine watch counts the CPU of the processes that are not the bench’s own, names the processes that used most, and leaves out the runner and the processes it was told are its own', async () => {
  const other = burner()
  const mine = burner()
  countAsOwn(mine.pid)
  const windows: OtherWindow[] = []
  const stopWatch = watchOtherProcesses((w) => windows.push(w))
  try {
    // This process spins too, between the windows: its own CPU must not be counted.
    const until = Date.now() + 8 * MACHINE_WINDOW_MS
    while (Date.now() < until) {
      const spinUntil = Date.now() + 20
      while (Date.now() < spinUntil);
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  } finally {
    stopWatch()
    await Promise.all([stop(other), stop(mine)])
  }
  assert.ok(windows.length >= 4, `a window every ${MACHINE_WINDOW_MS} ms (${windows.length})`)
  const listed = windows.flatMap((w) => w.processes)
  const otherMs = listed.filter((u) => u.pid === other.pid).reduce((n, u) => n + u.ms, 0)
  assert.ok(otherMs >= 100, `the spinning process counted (${otherMs} ms)`)
  // Listed under its name (among a window's three busiest; on a shared machine not always first).
  assert.ok(listed.filter((u) => u.pid === other.pid).every((u) => u.name === 'node'))
  assert.ok(!listed.some((u) => u.pid === mine.pid), 'a process of the bench is not counted')
  assert.ok(!listed.some((u) => u.pid === process.pid), 'the runner is not counted')
  for (const w of windows)
    assert.equal(
      w.ms,
      w.processes.reduce((n, u) => n + u.ms, 0),
    )
})

test('[SRS-PERF-607] a paced run reports what the other processes took meanwhile, and rounds combine it: CPU added up, the busiest window kept', async () => {
  const { default: http } = await import('node:http')
  const server = http.createServer((_req, res) => res.writeHead(200).end())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new Client((server.address() as AddressInfo).port, 4)
  const spin = burner()
  try {
    const seconds = (6 * MACHINE_WINDOW_MS) / 1000
    const busy = await paced(client, { rate: 50, seconds, ok: [200], make: () => get('/') })
    await stop(spin)
    const quiet = await paced(client, { rate: 50, seconds, ok: [200], make: () => get('/') })
    assert.ok(busy.otherProcesses, 'reported')
    assert.ok(
      busy.otherProcesses.cpuMs >= 100,
      `the spinning process's CPU (${busy.otherProcesses.cpuMs} ms)`,
    )
    assert.ok(
      busy.otherProcesses.peakWindowMs >= 50 && busy.otherProcesses.peakWindowMs <= busy.otherProcesses.cpuMs,
    )
    assert.ok(quiet.otherProcesses, 'reported when nothing else ran too')
    const both = combine([busy, quiet])
    assert.equal(both.otherProcesses?.cpuMs, busy.otherProcesses.cpuMs + quiet.otherProcesses.cpuMs)
    const peak = busy.otherProcesses.peakWindowMs >= quiet.otherProcesses.peakWindowMs ? busy : quiet
    assert.deepEqual(
      { peakWindowMs: both.otherProcesses?.peakWindowMs, peakBy: both.otherProcesses?.peakBy },
      { peakWindowMs: peak.otherProcesses?.peakWindowMs, peakBy: peak.otherProcesses?.peakBy },
    )
  } finally {
    await stop(spin)
    client.close()
    await new Promise((resolve) => server.close(resolve))
  }
})

// A route that takes 60 ms inside the server, for the trace to find there.
const slowRoute: FastifyPluginAsync = async (app) => {
  app.get(
    '/test/slow',
    {
      config: { public: 'test fixture: answers after 60 ms' },
      schema: { summary: 'Answer after 60 ms', response: { 200: Type.Object({}) } },
    },
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 60))
      return {}
    },
  )
}

test('[SRS-PERF-608] with BENCH_TRACE_DIR, each paced request carries an id the server logs, every slow one is written with its scheduled time, and the report splits its latency into before, server and after', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-trace-'))
  const saved = { dir: process.env.BENCH_TRACE_DIR, slow: process.env.BENCH_TRACE_SLOW_MS }
  const t = await createTestApp({ routes: [slowRoute] })
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const client = new Client((t.app.server.address() as AddressInfo).port, 8)
    process.env.BENCH_TRACE_DIR = dir
    process.env.BENCH_TRACE_SLOW_MS = '40'
    let result
    try {
      // Every fourth request takes 60 ms in the server; the others are answered at once.
      result = await paced(client, {
        rate: 40,
        seconds: 1,
        ok: [200],
        make: (i) => get(i % 4 === 0 ? '/test/slow' : '/health/live'),
      })
    } finally {
      client.close()
    }
    assert.equal(result.errors, 0)
    // The server's own log, as the bench's server writes it to the trace directory.
    writeFileSync(path.join(dir, 'server-1-1.log'), `${t.logs.lines.join('\n')}\n`)

    const slowFile = readdirSync(dir).find((f) => f.startsWith('slow-'))
    assert.ok(slowFile, 'the runner wrote its slow requests')
    const slow = readFileSync(path.join(dir, slowFile), 'utf8').trim().split('\n')
    for (const l of slow) {
      const [at, latency, id] = l.split(' ')
      assert.ok(Math.abs(Number(at) - Date.now()) < 60_000, 'an epoch time')
      assert.ok(Number(latency) >= 40, 'only the slow ones (over 40 ms, written rounded)')
      assert.match(id ?? '', new RegExp(`^bench-${process.pid}-\\d+-\\d+$`))
    }
    // All ten requests to the slow route (index a multiple of four) are there; a fast one only
    // when the machine stalled it.
    const index = (id: string) => Number(id.split('-').at(-1))
    const ids = slow.map((l) => l.split(' ')[2] as string)
    assert.deepEqual(
      ids
        .filter((id) => index(id) % 4 === 0)
        .map(index)
        .sort((a, b) => a - b), // written as answered, not as scheduled
      [0, 4, 8, 12, 16, 20, 24, 28, 32, 36],
    )
    // The server logged every request under the id the runner sent (fast ones too).
    const logged = new Set(t.logs.entries().map((e) => e.requestId))
    const runTag = ids[0]?.split('-').slice(0, 3).join('-')
    for (let i = 0; i < 40; i++) assert.ok(logged.has(`${runTag}-${i}`), `request ${i} logged under its id`)

    const { splits, unmatched } = splitStalls(dir)
    assert.equal(unmatched, 0)
    assert.equal(splits.length, slow.length)
    for (const s of splits) {
      if (index(s.slow.id) % 4 === 0) assert.ok(s.server >= 59, `the 60 ms are the server's (${s.server})`)
      assert.ok(
        Math.abs(s.before + s.server + s.after - s.slow.latency) <= 3,
        'the three parts make the latency',
      )
    }

    // A late timer turn of the server's, during the first of them, is set beside each request
    // whose time it overlaps; a collection five seconds before, beside none.
    const first = splits[0]
    assert.ok(first)
    const lag = { end: Math.round(first.slow.at + 30), ms: 25 }
    writeFileSync(
      path.join(dir, 'loop-server-1.log'),
      `${Date.now()} clock 1\n${lag.end} lag ${lag.ms}\n${Math.round(first.slow.at - 5_000)} gc 12 major\n`,
    )
    const again = splitStalls(dir)
    const overlaps = (s: (typeof splits)[number]) =>
      lag.end >= s.slow.at && lag.end - lag.ms <= s.slow.at + s.slow.latency
    assert.deepEqual(
      again.splits.map((s) => s.events.map((e) => `${e.role} ${e.kind} ${e.ms}`)),
      again.splits.map((s) => (overlaps(s) ? ['server lag 25'] : [])),
    )
    assert.ok(overlaps(first))
    assert.deepEqual(again.kinds.sort(), ['server gc', 'server lag'])
    const text = stallReport(dir)
    assert.match(text, new RegExp(`^${slow.length} slow requests \\(0 without a server line\\)`))
    // Each slow request counted once under its largest part (which part depends on the machine:
    // on a loaded one, the queue before the server can outgrow the route's 60 ms).
    const largest = /largest part: before (\d+), server (\d+), after (\d+)/.exec(text)
    assert.ok(largest, text)
    assert.equal(Number(largest[1]) + Number(largest[2]) + Number(largest[3]), slow.length, text)
    assert.match(text, new RegExp(`overlapping a server lag: ${again.splits.filter(overlaps).length}\n`))
    assert.match(text, /overlapping a server gc: 0\n/)
  } finally {
    if (saved.dir === undefined) delete process.env.BENCH_TRACE_DIR
    else process.env.BENCH_TRACE_DIR = saved.dir
    if (saved.slow === undefined) delete process.env.BENCH_TRACE_SLOW_MS
    else process.env.BENCH_TRACE_SLOW_MS = saved.slow
    await t.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('[SRS-PERF-608] a BENCH_TRACE_SLOW_MS that is not a positive number is refused when the runner starts tracing, not taken as "nothing is slow"', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-slow-'))
  const saved = { dir: process.env.BENCH_TRACE_DIR, slow: process.env.BENCH_TRACE_SLOW_MS }
  try {
    process.env.BENCH_TRACE_DIR = dir
    for (const bad of ['forty', '-5', '0']) {
      process.env.BENCH_TRACE_SLOW_MS = bad
      assert.throws(() => traceLoop('runner'), /BENCH_TRACE_SLOW_MS: expected a positive number/)
      assert.throws(() => pacedTrace(), /BENCH_TRACE_SLOW_MS/)
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing traced')
  } finally {
    if (saved.dir === undefined) delete process.env.BENCH_TRACE_DIR
    else process.env.BENCH_TRACE_DIR = saved.dir
    if (saved.slow === undefined) delete process.env.BENCH_TRACE_SLOW_MS
    else process.env.BENCH_TRACE_SLOW_MS = saved.slow
    rmSync(dir, { recursive: true, force: true })
  }
})

test('[SRS-PERF-608] a traced process writes the turns its event loop ran late, with the clock its CPU profile is stamped with', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-loop-'))
  const saved = process.env.BENCH_TRACE_DIR
  try {
    process.env.BENCH_TRACE_DIR = dir
    traceLoop('server')
    await new Promise((resolve) => setTimeout(resolve, 20))
    const blockedAt = Date.now()
    while (Date.now() < blockedAt + 80); // the loop held for 80 ms
    await new Promise((resolve) => setTimeout(resolve, 20))
    const lines = readFileSync(path.join(dir, `loop-server-${process.pid}.log`), 'utf8')
      .trim()
      .split('\n')
    const [clockAt, kind, micros] = (lines[0] ?? '').split(' ')
    assert.equal(kind, 'clock')
    assert.ok(Math.abs(Number(clockAt) - blockedAt) < 10_000)
    assert.ok(Number(micros) > 0)
    const lags = lines.filter((l) => l.split(' ')[1] === 'lag').map((l) => l.split(' ').map(Number))
    assert.ok(
      lags.some(([end, , ms]) => (ms as number) >= 60 && (end as number) >= blockedAt + 60),
      `the 80 ms block written as a lag (${lines.join(' | ')})`,
    )
  } finally {
    if (saved === undefined) delete process.env.BENCH_TRACE_DIR
    else process.env.BENCH_TRACE_DIR = saved
    rmSync(dir, { recursive: true, force: true })
  }
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test("[SRS-PERF-609] [SRS-PERF-608] a bench server whose runner is killed stops itself, so an interrupted run leaves no server behind; a traced runner's server traces too, into the same directory", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-orphan-'))
  const traceDir = path.join(dir, 'trace')
  // A runner of its own, traced, that starts one bench server (PGlite) and says its pid, then waits.
  const runner = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { startServer } from ${JSON.stringify(path.resolve('bench/support.ts'))}
       const s = await startServer({ serverNodeOptions: '' }, {
         PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'development',
         DATA_DIR: ${JSON.stringify(dir)}, HOST: '127.0.0.1', LOG_LEVEL: 'info', BENCH_DEVICES: '1',
       })
       process.stdout.write(String(s.child.pid) + '\\n')
       setInterval(() => {}, 1000)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_TRACE_DIR: traceDir } },
  )
  let serverPid: number | undefined
  try {
    serverPid = await new Promise<number>((resolve, reject) => {
      let out = ''
      runner.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
        const line = /^(\d+)\n/.exec(out)
        if (line) resolve(Number(line[1]))
      })
      runner.once('exit', (code) =>
        reject(new Error(`the runner exited (${code}) before its server was ready`)),
      )
    })
    assert.ok(alive(serverPid), 'the server runs')
    runner.kill('SIGKILL')
    const deadline = Date.now() + 30_000
    while (alive(serverPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(alive(serverPid), false, 'the server stopped once its runner was gone')

    // The server got the trace directory from startServer (the runner's environment is not its own):
    // its loop trace starts with its clock, and its JSON log is kept beside.
    const loop = readFileSync(path.join(traceDir, `loop-server-${serverPid}.log`), 'utf8')
    assert.match(loop, /^\d+ clock \d+\n/)
    const logs = readdirSync(traceDir).filter((f) => f.startsWith(`server-${runner.pid}-`))
    assert.equal(logs.length, 1)
    const first = readFileSync(path.join(traceDir, logs[0] as string), 'utf8').split('\n')[0] ?? ''
    assert.equal((JSON.parse(first) as { service?: string }).service, 'vigil')
  } finally {
    runner.kill('SIGKILL')
    if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, 'SIGKILL') // the test failed
    rmSync(dir, { recursive: true, force: true })
  }
})
