// Audit append throughput (ADR-0006): entries/s of
//   (a) a baseline single-row INSERT into a plain table with audit_entries' columns,
//   (b) audit.record with K = 1 chain (one serialised head),
//   (c) audit.record with K = 8 chains,
//   (d) the same as (c) with DATABASE_PREPARED_STATEMENTS=false (PostgreSQL only; ADR-0037),
// each with the same number of concurrent writers and a fixed count, in one process, so the
// ratios b/a and c/a are what to compare (this machine is noisy). On PostgreSQL when
// DATABASE_URL is set (in a scratch schema, dropped afterwards); otherwise on in-memory PGlite,
// which is single-connection and says little about contention.

import { randomUUID } from 'node:crypto'
import { createAuditTrail, type AuditEntryInput } from '../src/audit/index.ts'
import { openDatabase } from '../src/platform/db/index.ts'
import { openIsolatedDatabase } from '../test/support/app.ts'

export interface AppendBenchOptions {
  readonly databaseUrl: string | undefined
  readonly writers: number
  readonly entries: number
}

export interface AppendBenchResult {
  readonly engine: 'postgres' | 'pglite'
  readonly writers: number
  readonly entries: number
  readonly baselinePerSecond: number
  readonly oneChainPerSecond: number
  readonly eightChainsPerSecond: number
  /** (d): K = 8 with every statement unnamed (PostgreSQL only). */
  readonly eightChainsUnpreparedPerSecond: number | undefined
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

/** Runs `total` operations over `writers` concurrent loops; returns operations per second. */
async function rate(writers: number, total: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < total) await op(next++)
    }),
  )
  return total / ((performance.now() - started) / 1000)
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
    const baseline = (i: number) =>
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
    // Warm-up: connections, plans, caches.
    await rate(options.writers, options.writers * 10, baseline)
    await rate(options.writers, options.writers * 10, (i) =>
      eight.record({ ...ENTRY, requestId: `warm-${i}` }),
    )

    const baselinePerSecond = await rate(options.writers, options.entries, baseline)
    const oneChainPerSecond = await rate(options.writers, options.entries, (i) =>
      one.record({ ...ENTRY, requestId: `k1-${i}` }),
    )
    const eightChainsPerSecond = await rate(options.writers, options.entries, (i) =>
      eight.record({ ...ENTRY, requestId: `k8-${i}` }),
    )
    let eightChainsUnpreparedPerSecond: number | undefined
    if (unprepared) {
      const plain = createAuditTrail({ db: unprepared, chains: 8 })
      await rate(options.writers, options.writers * 10, (i) =>
        plain.record({ ...ENTRY, requestId: `warm-d-${i}` }),
      )
      eightChainsUnpreparedPerSecond = await rate(options.writers, options.entries, (i) =>
        plain.record({ ...ENTRY, requestId: `k8d-${i}` }),
      )
    }
    const verified = await eight.verify()
    if (!verified.ok)
      throw new Error(`the benchmark's trail does not verify: ${JSON.stringify(verified.firstBad)}`)
    return {
      engine: db.kind,
      writers: options.writers,
      entries: options.entries,
      baselinePerSecond,
      oneChainPerSecond,
      eightChainsPerSecond,
      eightChainsUnpreparedPerSecond,
    }
  } finally {
    await unprepared?.close()
    await drop()
  }
}
