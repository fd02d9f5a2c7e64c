// `npm run bench`: the benchmarks, each printing its figures and ratios against a baseline run in
// the same process or the same run. PostgreSQL when DATABASE_URL is set (benchmark there: PGlite
// is 3-7x slower and single-connection), otherwise PGlite. Not part of `npm test`.
//   BENCH=all (default) | device-data | audit
//   audit append: BENCH_WRITERS (default 16), BENCH_ENTRIES (default 4000 on PostgreSQL, 1000 on PGlite)
//   device data: see bench/device-data.ts (BENCH_CONCURRENCY, BENCH_SECONDS, BENCH_CASES, BENCH_READINGS, …):
//     ingestion, the token endpoint, FHIR search and reads at scale, and one line per goal of issue 17;
//     prints JSON lines on stdout, progress on stderr. Figures: docs/performance.md.

import { runAuditAppendBench } from './audit-append.ts'
import { optionsFromEnv, runDeviceDataBench } from './device-data.ts'

const which = process.env.BENCH ?? 'all'
if (!['all', 'device-data', 'audit'].includes(which)) {
  process.stderr.write('BENCH: expected all, device-data or audit\n')
  process.exit(78)
}
const databaseUrl = process.env.DATABASE_URL || undefined
let ok = true

if (which === 'all' || which === 'audit') {
  const writers = Number(process.env.BENCH_WRITERS ?? 16)
  const entries = Number(process.env.BENCH_ENTRIES ?? (databaseUrl ? 4000 : 1000))
  console.log(databaseUrl ? 'audit append on PostgreSQL (DATABASE_URL)' : 'audit append on in-memory PGlite (DATABASE_URL not set: figures say little about contention; benchmark on PostgreSQL)')
  const r = await runAuditAppendBench({ databaseUrl, writers, entries })
  const fmt = (n: number) => `${Math.round(n).toLocaleString('en')}/s`
  console.log(`  ${r.entries} entries each, ${r.writers} concurrent writers, engine ${r.engine}`)
  console.log(`  (a) baseline single-row INSERT   ${fmt(r.baselinePerSecond)}`)
  console.log(`  (b) audit.record, K = 1 chain    ${fmt(r.oneChainPerSecond)}   b/a = ${(r.oneChainPerSecond / r.baselinePerSecond).toFixed(2)}`)
  console.log(`  (c) audit.record, K = 8 chains   ${fmt(r.eightChainsPerSecond)}   c/a = ${(r.eightChainsPerSecond / r.baselinePerSecond).toFixed(2)}   c/b = ${(r.eightChainsPerSecond / r.oneChainPerSecond).toFixed(2)}`)
}

if (which === 'all' || which === 'device-data') {
  const result = await runDeviceDataBench(optionsFromEnv())
  if (!result.ok) {
    process.stderr.write('device-data bench: some requests failed or some acknowledged readings are missing (see the JSON lines)\n')
    ok = false
  }
}

process.exit(ok ? 0 : 1)
