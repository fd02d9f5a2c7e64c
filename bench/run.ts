// `npm run bench`: the benchmarks, each printing its figures and ratios against a baseline run in
// the same process or the same run. PostgreSQL when DATABASE_URL is set (benchmark there: PGlite
// is 3-7x slower and single-connection), otherwise PGlite. Not part of `npm test`.
//   BENCH=all (default) | device-data | audit | events | reads
//   audit append: BENCH_WRITERS (default 16), BENCH_ENTRIES (default 4000 on PostgreSQL, 1000 on PGlite);
//     on PostgreSQL also (d), K = 8 with prepared statements off (ADR-0037)
//   device data: see bench/device-data.ts (BENCH_CONCURRENCY, BENCH_SECONDS, BENCH_CASES, BENCH_READINGS, …):
//     ingestion, the token endpoint, FHIR search and reads at scale, and one line per goal of issue 17;
//     prints JSON lines on stdout, progress on stderr. Figures: docs/performance.md.
//   reads: reads at scale alone (issue 17, goals 3 and 5), PostgreSQL only: BENCH_READINGS (10 M)
//     readings across BENCH_PATIENTS (10,000) loaded through the repository, then the 90-day
//     device-data page and the FHIR Observation search at 100 k and at BENCH_READINGS, each scale on a
//     server and database of its own, in BENCH_READ_ROUNDS (3) rounds alternating between the scales.
//   events: see bench/events.ts (issue 16): webhook end-to-end latency at half the maximum ingest
//     rate, and the relay's delivered events/s against the raw outbox insert rate, with goal lines.
//   BENCH_TRACE_DIR: where the runner and the servers write their stall traces (bench/trace.ts);
//     `node --import tsx bench/trace-report.ts DIR` sets them side by side.

import { runAuditAppendBench, type Rate } from './audit-append.ts'
import {
  optionsFromEnv,
  PGLITE_REFUSED,
  readsOptionsFromEnv,
  runDeviceDataBench,
  runReadsBench,
} from './device-data.ts'
import { eventsOptionsFromEnv, runEventsBench } from './events.ts'
import { traceLoop } from './trace.ts'

const which = process.env.BENCH ?? 'all'
if (!['all', 'device-data', 'audit', 'events', 'reads'].includes(which)) {
  process.stderr.write('BENCH: expected all, device-data, audit, events or reads\n')
  process.exit(78)
}
traceLoop('runner')
const databaseUrl = process.env.DATABASE_URL || undefined
const readsAtScale =
  which === 'reads' ||
  ((which === 'all' || which === 'device-data') && optionsFromEnv().cases.includes('reads-at-scale'))
// Refused before anything runs (the audit append would otherwise run first on BENCH=all).
if (readsAtScale && !databaseUrl) {
  process.stderr.write(`BENCH=${which}: ${PGLITE_REFUSED}\n`)
  process.exit(78)
}
let ok = true

if (which === 'all' || which === 'audit') {
  const writers = Number(process.env.BENCH_WRITERS ?? 16)
  const entries = Number(process.env.BENCH_ENTRIES ?? (databaseUrl ? 4000 : 1000))
  console.log(
    databaseUrl
      ? 'audit append on PostgreSQL (DATABASE_URL)'
      : 'audit append on in-memory PGlite (DATABASE_URL not set: figures say little about contention; benchmark on PostgreSQL)',
  )
  const r = await runAuditAppendBench({ databaseUrl, writers, entries })
  const fmt = (x: Rate) =>
    `${Math.round(x.perSecond).toLocaleString('en')}/s, p99 ${x.p99Ms.toFixed(1)} ms`.padEnd(22)
  const ratio = (x: Rate, y: Rate) => (x.perSecond / y.perSecond).toFixed(2)
  console.log(`  ${r.entries} entries each, ${r.writers} concurrent writers, engine ${r.engine}`)
  console.log(`  (a) baseline single-row INSERT   ${fmt(r.baseline)}`)
  console.log(
    `  (b) audit.record, K = 1 chain    ${fmt(r.oneChain)}   b/a = ${ratio(r.oneChain, r.baseline)}`,
  )
  console.log(
    `  (c) audit.record, K = 8 chains   ${fmt(r.eightChains)}   c/a = ${ratio(r.eightChains, r.baseline)}   c/b = ${ratio(r.eightChains, r.oneChain)}`,
  )
  if (r.eightChainsUnprepared !== undefined)
    console.log(
      `  (d) as (c), statements unnamed   ${fmt(r.eightChainsUnprepared)}   c/d = ${ratio(r.eightChains, r.eightChainsUnprepared)}   (prepared statements, ADR-0037)`,
    )
  console.log(
    `  (e) audit.record, K = ${String(r.defaultChainCount).padEnd(2)} (default) ${fmt(r.defaultChains)}   e/a = ${ratio(r.defaultChains, r.baseline)}   e/c = ${ratio(r.defaultChains, r.eightChains)}   (ADR-0038)`,
  )
  console.log(
    `  (f) one entry id (uuidv7)        ${r.entryId.uuidv7Us.toFixed(2)} µs, against ${r.entryId.randomBytesUs.toFixed(2)} µs for the randomBytes(16) draw it used to make   f = ${(r.entryId.uuidv7Us / r.entryId.randomBytesUs).toFixed(2)}`,
  )
}

if (which === 'all' || which === 'device-data') {
  const result = await runDeviceDataBench(optionsFromEnv())
  if (!result.ok) {
    process.stderr.write(
      'device-data bench: some requests failed or some acknowledged readings are missing (see the JSON lines)\n',
    )
    ok = false
  }
}

if (which === 'all' || which === 'events') {
  const result = await runEventsBench(eventsOptionsFromEnv())
  if (!result.ok) {
    process.stderr.write(
      'events bench: some requests failed, some events were not delivered, or a signature did not verify (see the JSON lines)\n',
    )
    ok = false
  }
}

if (which === 'reads') {
  const result = await runReadsBench(readsOptionsFromEnv())
  if (!result.ok) {
    process.stderr.write('reads bench: some requests failed (see the JSON lines)\n')
    ok = false
  }
}

process.exit(ok ? 0 : 1)
