// One database interface over two engines: PGlite (embedded, the default) and PostgreSQL through
// `pg` (when DATABASE_URL is set). Repositories see only `Queryable`, so the same SQL runs on
// both; keep it within PostgreSQL 15.

export interface QueryResult<R> {
  readonly rows: R[]
  readonly rowCount: number
}

export interface Queryable {
  /** One statement, parameters always bound ($1, $2, …). */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>
}

export interface PoolStats {
  readonly total: number
  readonly idle: number
  readonly waiting: number
  readonly max: number
}

export interface ListenHandlers {
  readonly onMessage: (payload: string) => void
  /** false as soon as the listening connection is lost (notifications may be missed), true once listening (again). */
  readonly onState: (listening: boolean) => void
}

export interface Listening {
  close(): Promise<void>
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres'
  /** Runs fn in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  poolStats(): PoolStats
  /** The circuit breaker's state where the engine has one (PostgreSQL; ADR-0017). */
  circuitState?(): 'closed' | 'open' | 'half-open'
  /** PostgreSQL: LISTEN on channel (another process's NOTIFY reaches this one). Absent on PGlite (one process). */
  listen?(channel: string, handlers: ListenHandlers): Promise<Listening>
  close(): Promise<void>
}

export class DatabaseLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by another Vigil process${holderPid === undefined ? '' : ` (pid ${holderPid})`}. ` +
        'PGlite allows one process per data directory: stop that process, use another DATA_DIR, or set DATABASE_URL.',
    )
    this.name = 'DatabaseLockedError'
  }
}
