// A Database that records every statement the app sends (its first words, "[tx]" inside a
// transaction, BEGIN and COMMIT as their own lines): how many round trips a request costs.
// Test-only; the benchmark has its own counter (bench/server.ts, BENCH_COUNT_QUERIES=1).
//
// `log.within(fn)` counts only what `fn` causes: the statements issued in its asynchronous
// context (a request's handlers, hooks and after-reply work all inherit it), so a background job
// of the same app (the signing-key check every 30 s, the outbox relay where it runs, the instance
// heartbeat) never lands in a request's count.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Database, Queryable } from '../../src/platform/db/index.ts'

export interface StatementLog {
  readonly statements: string[]
  reset(): void
  /** Clears the log, runs `fn`, and from then on records only statements caused by `fn`. */
  within<T>(fn: () => PromiseLike<T>): Promise<T>
}

export function countingDatabase(db: Database): { db: Database; log: StatementLog } {
  const statements: string[] = []
  const scope = new AsyncLocalStorage<true>()
  let scoped = false
  const record = (line: string) => {
    if (!scoped || scope.getStore()) statements.push(line)
  }
  const key = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 100)
  const wrap = (q: Queryable, inTx: boolean): Queryable => ({
    query(sql, params) {
      record(`${inTx ? '[tx] ' : ''}${key(sql)}`)
      return q.query(sql, params)
    },
    exec: (sql) => q.exec(sql),
  })
  const counted: Database = {
    ...db,
    ...wrap(db, false),
    kind: db.kind,
    transaction(fn) {
      record('BEGIN')
      return db.transaction((tx) => fn(wrap(tx, true))).finally(() => record('COMMIT/ROLLBACK'))
    },
    poolStats: () => db.poolStats(),
    close: () => db.close(),
  }
  if (db.circuitState)
    (counted as { circuitState?: () => 'closed' | 'open' | 'half-open' }).circuitState = () =>
      db.circuitState?.() ?? 'closed'
  const reset = () => void statements.splice(0)
  return {
    db: counted,
    log: {
      statements,
      reset,
      within(fn) {
        reset()
        scoped = true
        // Awaited inside the context: a thenable (light-my-request's inject) starts only when awaited.
        return scope.run(true, async () => await fn())
      },
    },
  }
}
