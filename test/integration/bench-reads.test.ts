// The reads-at-scale bench case (BENCH=reads: bench/device-data.ts with bench/loader.ts;
// docs/performance.md, "Reads at scale") at a tiny size: it must keep working — readings loaded
// through the repository into PostgreSQL, both queries measured at the small and the large scale
// against /health/live, and the lines of goals 3 and 5. The figures of a run this short mean
// nothing and are not judged here; speed is shown by `npm run bench`, never by a test. The case
// runs on PostgreSQL only: on the PGlite suite it runs on a throwaway PostgreSQL cluster of the
// test's own (as the two-instance tests do), and without DATABASE_URL it refuses to run, with a
// message that says why and what to set.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { PGLITE_REFUSED, readsOptionsFromEnv, runReadsBench } from '../../bench/device-data.ts'
import { Client, combine, paced, percentile, type Request } from '../../bench/load.ts'
import { PgCluster } from '../support/pg-cluster.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const get = (p: string): Request => ({ method: 'GET', path: p, body: '' })

const tiny = {
  BENCH_CONCURRENCY: '4',
  BENCH_SECONDS: '0.5',
  BENCH_WARMUP_SECONDS: '0.5',
  BENCH_HALF_SECONDS: '0.5',
  BENCH_READ_ROUNDS: '2',
  BENCH_DEVICES: '2',
  BENCH_POOL: '4',
  BENCH_LOG_LEVEL: 'warn',
  BENCH_READINGS: '2000',
  BENCH_PATIENTS: '10',
  BENCH_CARE_TEAM: '2',
  BENCH_READINGS_DAYS: '30', // every reading inside the 90-day window: a full page at both scales
}

test('[SRS-PERF-585] BENCH=reads takes BENCH_READINGS and BENCH_PATIENTS from the environment (10,000,000 across 10,000 by default), the small scale 100,000 (or a tenth), and runs the reads-at-scale case alone', () => {
  const defaults = readsOptionsFromEnv({ BENCH_CASES: 'v2-single' })
  assert.deepEqual(defaults.cases, ['reads-at-scale'])
  assert.equal(defaults.readings, 10_000_000)
  assert.equal(defaults.patients, 10_000)
  assert.equal(defaults.readingsSmall, 100_000)
  assert.equal(defaults.readingsDays, 365)
  assert.equal(defaults.readRounds, 3)
  const set = readsOptionsFromEnv({ BENCH_READINGS: '1000000', BENCH_PATIENTS: '1000' })
  assert.equal(set.readings, 1_000_000)
  assert.equal(set.patients, 1000)
  assert.equal(readsOptionsFromEnv(tiny).readingsSmall, 200)
  assert.throws(() => readsOptionsFromEnv({ BENCH_READINGS: '-5' }), /BENCH_READINGS/)
  assert.throws(() => readsOptionsFromEnv({ BENCH_READ_ROUNDS: '1.5' }), /BENCH_READ_ROUNDS/)
})

test('[SRS-PERF-588] rounds of a load combine into one figure: requests and seconds summed, percentiles over every latency, errors added up', async () => {
  const server = http.createServer((req, res) => {
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms'))
    setTimeout(() => res.writeHead(ms > 30 ? 503 : 200).end(), ms)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new Client((server.address() as AddressInfo).port, 4)
  try {
    const fast = await paced(client, { rate: 50, seconds: 0.4, ok: [200], make: () => get('/?ms=1') })
    const slow = await paced(client, { rate: 50, seconds: 0.2, ok: [200], make: () => get('/?ms=40') })
    const both = combine([fast, slow])
    assert.equal(both.requests, fast.requests + slow.requests)
    assert.equal(both.requests, 30)
    assert.equal(both.seconds, fast.seconds + slow.seconds)
    assert.equal(both.requestsPerSecond, both.requests / both.seconds)
    assert.equal(both.errors, slow.requests)
    assert.deepEqual(both.unexpected, { '503': slow.requests })
    const every = [...fast.latencies, ...slow.latencies].sort((a, b) => a - b)
    assert.deepEqual(both.latencies, every)
    // Percentiles of every latency, not of either round's (nor an average of the two rounds').
    assert.equal(both.p50Ms, percentile(every, 50))
    assert.equal(both.p99Ms, percentile(every, 99))
    assert.ok(both.p99Ms >= 40, "the p99 is a slow request's (each takes 40 ms at least)")
    assert.equal(both.maxMs, Math.max(fast.maxMs, slow.maxMs))
  } finally {
    client.close()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('[SRS-PERF-586] BENCH=reads refuses PGlite before it starts anything, saying it runs on PostgreSQL only and to set DATABASE_URL', async () => {
  const options = readsOptionsFromEnv(tiny)
  await assert.rejects(runReadsBench({ ...options, databaseUrl: undefined }), (err: Error) => {
    assert.equal(err.message, PGLITE_REFUSED)
    assert.match(err.message, /PostgreSQL only/)
    assert.match(err.message, /DATABASE_URL/)
    return true
  })
})

test('[SRS-PERF-587] [SRS-PERF-588] [SRS-PERF-589] the reads bench case runs end to end at a tiny size on PostgreSQL: readings loaded through the repository, the 90-day device-data page and the FHIR search each measured at both scales with throughput, p99 at half load, the large ÷ small ratio and the ratio to /health/live, and the lines of goals 3 and 5', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-reads-test-'))
  const out = path.join(dir, 'bench.jsonl')
  let cluster: PgCluster | undefined
  try {
    // The server the bench creates its own database on (and drops it after).
    let databaseUrl = process.env.DATABASE_URL
    if (!databaseUrl) {
      cluster = await PgCluster.create(dir)
      cluster.start()
      databaseUrl = cluster.url()
    }
    const options = readsOptionsFromEnv({ ...tiny, DATABASE_URL: databaseUrl, BENCH_OUT: out })
    // The bench's progress lines (stderr) say which scale is measured when.
    const progress: string[] = []
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      progress.push(String(chunk))
      return write(chunk, ...rest)
    }) as typeof process.stderr.write
    let result: { ok: boolean }
    try {
      result = await runReadsBench(options)
    } finally {
      process.stderr.write = write
    }
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json)
    assert.equal(result.ok, true, JSON.stringify(lines))

    // Loaded through the repository: the small scale, then the large one; whole patients, table rows counted.
    const loads = lines.filter((l) => l.kind === 'load')
    assert.deepEqual(
      loads.map((l) => [l.readings, l.patients, l.readingsPerPatient]),
      [
        [200, 1, 200],
        [2000, 10, 200],
      ],
    )
    for (const l of loads) {
      assert.equal(l.engine, 'postgres')
      assert.ok(l.tableRows >= l.readings && l.tableBytes > 0 && l.readingsPerSecond > 0)
    }

    // Each scale on a server and a database of its own (the small set's table holds only its
    // readings), measured in rounds that alternate: small, large, then large, small.
    for (const query of ['device-data-90d', 'fhir-search']) {
      for (const phase of ['maximum', 'paced at half load']) {
        const order = progress
          .filter((p) => p.includes(`] ${query} (`) && p.includes(`: ${phase}`))
          .map((p) => `${/\((small|large),/.exec(p)?.[1]} ${/round (\d) of 2/.exec(p)?.[1]}`)
        assert.deepEqual(order, ['small 1', 'large 1', 'large 2', 'small 2'], `${query}, ${phase}`)
      }
    }

    // One case line per query, each with both scales' figures and the ratios.
    const cases = lines.filter((l) => l.kind === 'case')
    assert.deepEqual(cases.map((c) => [c.case, c.query]).sort(), [
      ['reads-at-scale', 'device-data-90d'],
      ['reads-at-scale', 'fhir-search'],
    ])
    for (const c of cases) {
      assert.equal(c.windowDays, 90)
      assert.equal(typeof c.throughputRatioLargeToSmall, 'number')
      assert.equal(c.rounds, 2)
      assert.ok(c.small.tableRows < 1000 && c.large.tableRows >= 2000, 'a table for each scale')
      for (const scale of ['small', 'large'] as const) {
        const s = c[scale] as Json
        assert.equal(s.readingsLoaded, scale === 'small' ? 200 : 2000)
        assert.equal(s.resultsPerRequest, c.query === 'fhir-search' ? 50 : 100, 'a full page answered')
        assert.ok(s.secured.requestsPerSecond > 0 && s.secured.errors === 0)
        assert.equal(typeof s.secured.requestsPerCoreSecond, 'number')
        assert.equal(typeof s.secured.cpuPerRequest.postgresMs, 'number')
        assert.ok(s.halfLoad.targetRequestsPerSecond > 0 && s.halfLoad.errors === 0)
        assert.ok(s.halfLoad.p99Ms >= s.halfLoad.p50Ms && s.halfLoad.p50Ms > 0)
        assert.ok(s.healthLive.requestsPerSecond > 0)
        assert.equal(typeof s.ratioToHealthLive, 'number')
      }
    }

    // The goal lines of goals 3 and 5 only, each check with a figure; not at the goal's scale.
    const goals = lines.filter((l) => l.kind === 'goal')
    assert.deepEqual(
      goals.map((g) => g.goal),
      [3, 5],
    )
    for (const g of goals) {
      assert.equal(typeof g.met, 'boolean')
      assert.equal(g.applies, false)
      assert.match(g.why, /2,000 readings across 10 patients/)
      for (const c of g.checks as Json[]) {
        assert.equal(typeof c.target, 'number')
        assert.equal(typeof c.figure, 'number', `${c.measure} measured`)
        assert.equal(typeof c.met, 'boolean')
      }
    }
    assert.equal(goals[0]?.checks.length, 4)
    assert.equal(typeof goals[1]?.ratioToHealthLive, 'number')
    assert.equal(lines.find((l) => l.kind === 'stored')?.loaded, 2000)
  } finally {
    await cluster?.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
})
