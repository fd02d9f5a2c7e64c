export type { Database, ListenHandlers, Listening, Queryable, QueryResult, PoolStats } from './database.ts'
export { watchWrites } from './write-watch.ts'
export { arrayParam } from './array-param.ts'
export { databaseOptions } from './from-config.ts'
export { lockForTransaction } from './advisory-lock.ts'
export { DatabaseLockedError } from './database.ts'
export { migrate, pendingMigrations, type MigrationReport } from './migrate.ts'
import type { Database, Queryable } from './database.ts'
import { openPglite } from './pglite.ts'
export { pgliteImage } from './pglite.ts'
import { openPostgres, type DatabaseEvent } from './postgres.ts'
export type { DatabaseEvent } from './postgres.ts'
export { DatabaseUnavailableError, findDatabaseUnavailable } from './unavailable.ts'

export interface DatabaseOptions {
  readonly databaseUrl?: string | undefined
  /** PGlite data directory; undefined → in memory. Ignored when databaseUrl is set. */
  readonly pgliteDir?: string | undefined
  /** In memory only: start from this PGlite data-directory image (pgliteImage) instead of initdb. */
  readonly pgliteImage?: Blob | undefined
  readonly poolMax?: number
  /** PostgreSQL: connections kept open once opened (default 0; the server keeps poolMax, ADR-0039). */
  readonly poolMin?: number
  /** PostgreSQL: idle time after which a connection above poolMin closes, in ms (default 10,000). */
  readonly poolIdleMs?: number
  /** PostgreSQL: send common statements named, so each connection parses them once (default true; ADR-0037). */
  readonly preparedStatements?: boolean
  /** PostgreSQL session timeouts in ms (0 or unset = none; the server's own defaults apply). */
  readonly statementTimeoutMs?: number
  readonly lockTimeoutMs?: number
  readonly idleInTransactionTimeoutMs?: number
  readonly connectTimeoutMs?: number
  /** How long opening PostgreSQL waits for it to become reachable (ms; unset = fail at once). */
  readonly startupWaitMs?: number
  readonly onEvent?: (event: DatabaseEvent) => void
  /** The PostgreSQL circuit breaker's threshold and cool-down (defaults: 3 failures, 500 ms). */
  readonly circuit?: { readonly failureThreshold: number; readonly cooldownMs: number }
}

export function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (!options.databaseUrl) return openPglite(options.pgliteDir, options.pgliteImage)
  return openPostgres(options.databaseUrl, {
    max: options.poolMax ?? 10,
    ...(options.poolMin !== undefined ? { min: options.poolMin } : {}),
    ...(options.poolIdleMs !== undefined ? { idleMs: options.poolIdleMs } : {}),
    ...(options.preparedStatements !== undefined ? { preparedStatements: options.preparedStatements } : {}),
    ...(options.statementTimeoutMs !== undefined ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs !== undefined
      ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
      : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.startupWaitMs !== undefined ? { startupWaitMs: options.startupWaitMs } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.circuit ? { circuit: options.circuit } : {}),
  })
}

/** One round trip that proves the database answers (readiness checks); throws when it does not. */
export async function ping(q: Pick<Queryable, 'query'>): Promise<void> {
  await q.query('SELECT 1 AS ok')
}
