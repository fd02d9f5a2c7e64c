export type { Database, Queryable, QueryResult, PoolStats } from './database.ts'
export { DatabaseLockedError } from './database.ts'
export { migrate, pendingMigrations, type MigrationReport } from './migrate.ts'
import type { Database } from './database.ts'
import { openPglite } from './pglite.ts'
import { openPostgres } from './postgres.ts'

export interface DatabaseOptions {
  readonly databaseUrl?: string | undefined
  /** PGlite data directory; undefined → in memory. Ignored when databaseUrl is set. */
  readonly pgliteDir?: string | undefined
  readonly poolMax?: number
}

export function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolMax ?? 10) : openPglite(options.pgliteDir)
}
