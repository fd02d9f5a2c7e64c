// Audit append throughput (ADR-0006): entries/s of
//   (a) a baseline single-row INSERT into a plain table with audit_entries' columns,
//   (b) audit.record with K = 1 chain (one serialised head),
//   (c) audit.record with K = 8 chains,
//   (d) the same as (c) with DATABASE_PREPARED_STATEMENTS=false (PostgreSQL only; ADR-0037),
//   (e) audit.record with the server's default K (ADR-0038),
//   (f) the cost of one entry id (uuidv7) against the randomBytes(16) draw per id it used to make,
// each with the same number of concurrent writers and a fixed count, in one process, so the
// ratios b/a, c/a and e/a are what to compare (this machine is noisy), and the 99th percentile of
// one append's time, which grows when appends queue on a chain's head. On PostgreSQL when
// DATABASE_URL is set (in a scratch schema, dropped afterwards); otherwise on in-memory PGlite,
// which is single-connection and says little about contention.

import { randomBytes, randomUUID } from 'node:crypto'
import { uuidv7 } from '../src/audit/entry-id.ts'
import { createAuditTrail, type AuditEntryInput } from '../src/audit/index.ts'
import { openDatabase } from '../src/platform/db/index.ts'
import { openIsolatedDatabase } from '../test/support/app.ts'
import { percentile } from './load.ts'

export interface AppendBenchOptions {
  readonly databaseUrl: string | undefined
  readonly writers: number
  readonly entries: number
}

export interface AppendBenchResult {
  readonly engine: 'postgres' | 'pglite'
  readonly writers: number
  readonly entries: number
  readonly baseline: Rate
  readonly oneChain: Rate
  readonly eightChains: Rate
  /** (d): K = 8 with every statement unnamed (PostgreSQL only). */
  readonly eightChainsUnprepared: Rate | undefined
  /** (e): K = the server's default (DEFAULT_CHAINS). */
  readonly defaultChains: Rate
  readonly defaultChainCount: number
  /** (f): microseconds per entry id, and per randomBytes(16) call (the id's former source of randomness). */
  readonly entryId: { readonly uuidv7Us: number; readonly randomBytesUs: number }
}

const ascending = (a: number, b: number): number => a - b

/** Microseconds per call of `op`: the median of five rounds of `calls`, alternating with the other measure. */
function microsPerCall(ops: readonly (() => unknown)[], calls = 50_000): number[] {
  const rounds: number[][] = ops.map(() => [])
  for (let round = 0; round < 5; round++)
    ops.forEach((op, k) => {
      const started = process.hrtime.bigint()
      for (let i = 0; i < calls; i++) op()
      rounds[k]?.push(Number(process.hrtime.bigint() - started) / 1_000 / calls)
    })
  const median = (r: number[]) => percentile(r.sort(ascending), 50)
  return rounds.map(median)
}

const ENTRY: AuditEntryInput = {
  actorKind: 'user',
  actorId: 'b1c2d3e4-0000-4000-8000-000000000001',
  clientId: 'demo-app',
  ip: '10.1.2.3',
  userAgent: 'vigil-bench/1.0',
  action: 'device-data.read',
  resourceType: 'device-data',
  outcome: 'success',
  status: 200,
  decisionRule: 'patient-own-data',
}

export interface Rate {
  readonly perSecond: number
  /** The 99th percentile of one operation's time, from its call to its answer. */
  readonly p99Ms: number
}

/** Runs `total` operations over `writers` concurrent loops. */
async function rate(writers: number, total: number, op: (i: number) => Promise<unknown>): Promise<Rate> {
  let next = 0
  const times: number[] = []
  const started = performance.now()
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < total) {
        const at = performance.now()
        await op(next++)
        times.push(performance.now() - at)
      }
    }),
  )
  const perSecond = total / ((performance.now() - started) / 1000)
  times.sort(ascending)
  return { perSecond, p99Ms: percentile(times, 99) }
}

export async function runAuditAppendBench(options: AppendBenchOptions): Promise<AppendBenchResult> {
  const { db, drop, url } = await openIsolatedDatabase({
    databaseUrl: options.databaseUrl,
    poolMax: options.writers,
  })
  // (d): the same schema through a pool that sends every statement unnamed.
  const unprepared = url
    ? await openDatabase({ databaseUrl: url, poolMax: options.writers, preparedStatements: false })
    : undefined
  try {
    await db.exec('CREATE TABLE audit_bench_baseline (LIKE audit_entries INCLUDING DEFAULTS)')
    const hash = 'a'.repeat(64)
    const baselineInsert = (i: number) =>
      db.query(
        `INSERT INTO audit_bench_baseline (id, chain, seq, occurred_at, actor_kind, actor_id, client_id, ip, user_agent, action, resource_type, outcome, status, decision_rule, request_id, prev_hash, hash)
         VALUES ($1, 0, $2, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
        [
          randomUUID(),
          i + 1,
          new Date().toISOString(),
          ENTRY.actorKind,
          ENTRY.actorId,
          ENTRY.clientId,
          ENTRY.ip,
          ENTRY.userAgent,
          ENTRY.action,
          ENTRY.resourceType,
          ENTRY.outcome,
          ENTRY.status,
          ENTRY.decisionRule,
          `req-${i}`,
          hash,
          hash,
        ],
      )
    const one = createAuditTrail({ db, chains: 1 })
    const eight = createAuditTrail({ db, chains: 8 })
    const byDefault = createAuditTrail({ db })
    // Warm-up: connections, plans, caches.
    await rate(options.writers, options.writers * 10, baselineInsert)
    await rate(options.writers, options.writers * 10, (i) =>
      eight.record({ ...ENTRY, requestId: `warm-${i}` }),
    )

    const baseline = await rate(options.writers, options.entries, baselineInsert)
    const oneChain = await rate(options.writers, options.entries, (i) =>
      one.record({ ...ENTRY, requestId: `k1-${i}` }),
    )
    const eightChains = await rate(options.writers, options.entries, (i) =>
      eight.record({ ...ENTRY, requestId: `k8-${i}` }),
    )
    let eightChainsUnprepared: Rate | undefined
    if (unprepared) {
      const plain = createAuditTrail({ db: unprepared, chains: 8 })
      await rate(options.writers, options.writers * 10, (i) =>
        plain.record({ ...ENTRY, requestId: `warm-d-${i}` }),
      )
      eightChainsUnprepared = await rate(options.writers, options.entries, (i) =>
        plain.record({ ...ENTRY, requestId: `k8d-${i}` }),
      )
    }
    await rate(options.writers, options.writers * 10, (i) =>
      byDefault.record({ ...ENTRY, requestId: `warm-e-${i}` }),
    )
    const defaultChains = await rate(options.writers, options.entries, (i) =>
      byDefault.record({ ...ENTRY, requestId: `ke-${i}` }),
    )
    const at = new Date()
    const [uuidv7Us, randomBytesUs] = microsPerCall([() => uuidv7(at), () => randomBytes(16)]) as [
      number,
      number,
    ]
    const verified = await eight.verify()
    if (!verified.ok)
      throw new Error(`the benchmark's trail does not verify: ${JSON.stringify(verified.firstBad)}`)
    return {
      engine: db.kind,
      writers: options.writers,
      entries: options.entries,
      baseline,
      oneChain,
      eightChains,
      eightChainsUnprepared,
      defaultChains,
      defaultChainCount: byDefault.chains,
      entryId: { uuidv7Us, randomBytesUs },
    }
  } finally {
    await unprepared?.close()
    await drop()
  }
}
