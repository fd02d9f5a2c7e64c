// PostgreSQL through node-postgres, hardened against the database going away (ADR-0017):
// - every client the pool opens carries an 'error' listener, so a connection that dies while
//   checked out (57P01 on a restart, a reset) fails the requests that used it and nothing else;
//   the broken client is destroyed, not returned to the pool;
// - statement, lock and idle-in-transaction timeouts are set on every session, and a client-side
//   deadline catches a database that stopped answering altogether;
// - errors that mean "cannot serve now" become DatabaseUnavailableError (503 with Retry-After);
// - a circuit breaker makes calls fail in milliseconds while the database is unreachable;
// - opening waits for the database with back-off instead of failing the start;
// - a statement with parameters sent before goes named, prepared once per connection (ADR-0037).

import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { CircuitBreaker, CircuitOpenError, type CircuitState } from '../resilience/circuit-breaker.ts'
import type { Database, ListenHandlers, Listening, Queryable, QueryResult } from './database.ts'
import { DatabaseUnavailableError, isConnectionFailure, isTimeout } from './unavailable.ts'
import { notify, PendingWrites, watchesFor } from './write-watch.ts'

const INT8_OID = 20
const TIMESTAMPTZ_OID = 1184
const parseTimestamptzSlowly = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text')
// PostgreSQL's text form of a timestamptz in a UTC session: 2026-12-06 05:41:20.123456+00.
const UTC_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\+00$/

/**
 * A timestamptz as a Date. The common form (four-digit year, UTC offset) goes to the engine's ISO
 * parser as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which reads it as pg's own parser does (fraction
 * truncated to the millisecond) at about half the cost; anything else — another offset, a BC date,
 * infinity — goes to pg's parser. Every Observation a FHIR page returns carries three.
 */
export function parseTimestamptz(value: string): unknown {
  if (UTC_TIMESTAMPTZ.test(value)) return new Date(`${value.slice(0, 10)}T${value.slice(11, -3)}Z`)
  return parseTimestamptzSlowly(value)
}

function parseInt8(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new RangeError('int8 value exceeds the safe integer range')
  return n
}

/**
 * Which statements go named, so that each connection parses them once and PostgreSQL may keep
 * their plan (ADR-0037): a statement with parameters whose text this process has sent `after`
 * times; at most `max` texts are ever named, so every backend holds a bounded set of them.
 */
export class StatementNames {
  private readonly counts = new Map<string, number>()
  private readonly names = new Map<string, string>()
  constructor(
    private readonly max = 256,
    private readonly after = 2,
    /** Texts counted before the count starts afresh (texts built per call never add up). */
    private readonly tracked = 4096,
  ) {}

  nameFor(text: string): string | undefined {
    const known = this.names.get(text)
    if (known !== undefined || this.names.size >= this.max) return known
    const seen = (this.counts.get(text) ?? 0) + 1
    if (seen < this.after) {
      if (this.counts.size >= this.tracked) this.counts.clear()
      this.counts.set(text, seen)
      return undefined
    }
    this.counts.delete(text)
    const name = `vigil_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`
    this.names.set(text, name)
    return name
  }

  get size(): number {
    return this.names.size
  }
}

export interface PostgresOptions {
  readonly max: number
  /**
   * Connections the pool keeps once it has opened them (default 0): idle ones above this many are
   * closed after `idleMs`. A connection opened again costs a backend's start and its prepared
   * statements (ADR-0039).
   */
  readonly min?: number
  /** How long a connection above `min` stays idle before the pool closes it, in ms (default 10,000). */
  readonly idleMs?: number
  /** Send common statements named (StatementNames; default true). */
  readonly preparedStatements?: boolean
  /** Server-side statement_timeout in ms (0 = none). */
  readonly statementTimeoutMs?: number
  /** Server-side lock_timeout in ms (0 = none). */
  readonly lockTimeoutMs?: number
  /** Server-side idle_in_transaction_session_timeout in ms (0 = none). */
  readonly idleInTransactionTimeoutMs?: number
  /** Deadline for opening a connection, in ms. */
  readonly connectTimeoutMs?: number
  /** How long opening waits for an unreachable database, in ms (0 = fail at once). */
  readonly startupWaitMs?: number
  /** Connection errors and waiting at start-up are reported here (never with credentials). */
  readonly onEvent?: (event: DatabaseEvent) => void
  /** Circuit breaker: consecutive failures that open it, and its cool-down (DATABASE_CIRCUIT_*). */
  readonly circuit?: { readonly failureThreshold: number; readonly cooldownMs: number }
}

export type DatabaseEvent =
  | { readonly type: 'connection-error'; readonly where: 'idle' | 'checked-out'; readonly error: Error }
  | { readonly type: 'circuit'; readonly state: CircuitState; readonly previous: CircuitState }
  | {
      readonly type: 'waiting'
      readonly attempt: number
      readonly retryInMs: number
      readonly reason: string
    }

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.message.split('\n')[0]!.slice(0, 120) : 'unknown'
}

export async function openPostgres(connectionString: string, options: PostgresOptions): Promise<Database> {
  const statementTimeout = options.statementTimeoutMs ?? 0
  const poolConfig: pg.PoolConfig = {
    connectionString,
    max: options.max,
    min: Math.min(options.min ?? 0, options.max),
    idleTimeoutMillis: options.idleMs ?? 10_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    ...(statementTimeout > 0
      ? { statement_timeout: statementTimeout, query_timeout: statementTimeout + 2_000 }
      : {}),
    ...(options.lockTimeoutMs ? { lock_timeout: options.lockTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs
      ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }
      : {}),
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID
          ? parseInt8
          : oid === TIMESTAMPTZ_OID && format !== 'binary'
            ? parseTimestamptz
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  }
  const pool = new pg.Pool(poolConfig)
  const emit = options.onEvent ?? (() => {})
  // An idle client's error (server restart): the pool drops the client; the next query reconnects.
  pool.on('error', (error) => emit({ type: 'connection-error', where: 'idle', error }))
  // A checked-out client (a transaction between statements) has no pool listener: without this,
  // a FATAL from the server is an unhandled 'error' event and the process dies. The statement in
  // flight, or the next one, fails instead, and the client is destroyed on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => emit({ type: 'connection-error', where: 'checked-out', error }))
  })

  const breaker = new CircuitBreaker('database', {
    failureThreshold: options.circuit?.failureThreshold ?? 3,
    cooldownMs: options.circuit?.cooldownMs ?? 500,
    onStateChange: (state, previous) => emit({ type: 'circuit', state, previous }),
  })

  /** Maps a driver error to what the caller should see, and tells the breaker. */
  function classify(err: unknown): unknown {
    if (err instanceof DatabaseUnavailableError) return err
    if (isConnectionFailure(err)) {
      breaker.failure()
      return new DatabaseUnavailableError('The database connection was lost or could not be opened', {
        cause: err,
        reason: reasonOf(err),
      })
    }
    breaker.success() // the server answered, if only with an error of its own
    if (isTimeout(err))
      return new DatabaseUnavailableError('The database did not complete the statement in time', {
        cause: err,
        reason: reasonOf(err),
      })
    return err
  }

  function enter(): void {
    try {
      breaker.enter()
    } catch (err) {
      if (err instanceof CircuitOpenError)
        throw new DatabaseUnavailableError('The database is unavailable', {
          cause: err,
          reason: 'circuit-open',
        })
      throw err
    }
  }

  const names = options.preparedStatements === false ? undefined : new StatementNames()
  /** One statement on a client: named once it is a common one with parameters (ADR-0037), otherwise as it is. */
  function query(client: pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
    const name = params && params.length > 0 ? names?.nameFor(sql) : undefined
    return name === undefined
      ? client.query(sql, params as unknown[] | undefined)
      : client.query({ name, text: sql, values: params as unknown[] })
  }

  async function run<R>(
    q: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult> {
    try {
      const res = q === pool ? await onPool(sql, params) : await query(q as pg.PoolClient, sql, params)
      breaker.success()
      return res as pg.QueryResult<R & pg.QueryResultRow>
    } catch (err) {
      throw classify(err)
    }
  }

  /**
   * pool.query, except that an error the server reported (a unique violation, a check raised on
   * purpose: ADR-0036) returns the connection to the pool: pool.query destroys it on any error, and
   * a new connection costs a backend's start. A connection failure, or an error from the client
   * itself (a client-side timeout), still destroys it.
   */
  async function onPool(sql: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      return await query(client, sql, params)
    } catch (err) {
      if (!(err instanceof pg.DatabaseError) || isConnectionFailure(err))
        broken = err instanceof Error ? err : new Error('query failed')
      throw err
    } finally {
      client.release(broken)
    }
  }

  function wrap(q: pg.Pool | pg.PoolClient, guard: boolean, pending?: PendingWrites): Queryable {
    return {
      async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
        if (guard) enter()
        const res = await run<R>(q, sql, params)
        if (pending) pending.note(sql)
        else notify(watchesFor(sql))
        return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length }
      },
      async exec(sql: string): Promise<void> {
        if (guard) enter()
        await run(q, sql)
      },
    }
  }

  const base = wrap(pool, true)
  const listeners = new Set<Listening>()
  await waitForDatabase(() => pool.query('SELECT 1'), options.startupWaitMs ?? 0, emit)
  return {
    kind: 'postgres',
    ...base,
    async transaction(fn) {
      enter()
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (err) {
        throw classify(err)
      }
      let broken: unknown
      const pending = new PendingWrites()
      try {
        await run(client, 'BEGIN')
        const result = await fn(wrap(client, false, pending))
        await run(client, 'COMMIT')
        return result
      } catch (err) {
        // A lost connection rolled the transaction back on the server (or, if COMMIT itself was
        // lost, left it committed or not: the caller gets 503 and retries with its idempotency key).
        const cause = err instanceof DatabaseUnavailableError ? err.cause : err
        if (isConnectionFailure(cause)) broken = err
        else await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError))
        throw err instanceof DatabaseUnavailableError ? err : classify(err)
      } finally {
        // A client whose connection failed is destroyed, never handed to the next request.
        client.release(broken === undefined ? undefined : broken instanceof Error ? broken : true)
        pending.flush()
      }
    },
    async listen(channel, handlers) {
      const listening = await listenOn(poolConfig, channel, handlers, emit)
      listeners.add(listening)
      return {
        async close() {
          listeners.delete(listening)
          await listening.close()
        },
      }
    },
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: options.max,
    }),
    circuitState: () => breaker.state,
    // The listeners go with the pool, so a caller that closes the database leaves no connection open.
    async close() {
      await Promise.all([...listeners].map((l) => l.close()))
      listeners.clear()
      await pool.end()
    },
  }
}

/** Start-up: wait for the database with capped exponential back-off; wrong credentials or a missing database fail at once. */
async function waitForDatabase(
  probe: () => Promise<unknown>,
  waitMs: number,
  emit: (e: DatabaseEvent) => void,
): Promise<void> {
  const deadline = performance.now() + waitMs
  for (let attempt = 1; ; attempt++) {
    try {
      await probe()
      return
    } catch (err) {
      if (!isConnectionFailure(err)) throw err
      const reason = reasonOf(err)
      const retryInMs = Math.min(5_000, 200 * 2 ** Math.min(attempt - 1, 5))
      if (performance.now() + retryInMs > deadline) {
        throw new DatabaseUnavailableError(
          `The database is unreachable (${reason}); gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
          { cause: err, reason },
        )
      }
      emit({ type: 'waiting', attempt, retryInMs, reason })
      await sleep(retryInMs)
    }
  }
}

/**
 * LISTEN on a connection of its own (not the pool's: a pooled connection is handed to others).
 * When the connection is lost, onState(false) is called at once — a cache relying on the
 * notifications must stop trusting itself — and the listener reconnects with back-off, calling
 * onState(true) once listening again (notifications sent in between are lost: the caller starts afresh).
 */
async function listenOn(
  config: pg.PoolConfig,
  channel: string,
  handlers: ListenHandlers,
  emit: (e: DatabaseEvent) => void,
): Promise<Listening> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name: ${channel}`)
  let closed = false
  let client: pg.Client | undefined
  let attempt = 0
  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      ...config,
      statement_timeout: undefined,
      query_timeout: undefined,
      idle_in_transaction_session_timeout: undefined,
    } as pg.ClientConfig)
    c.on('notification', (n) => {
      if (n.channel === channel) handlers.onMessage(n.payload ?? '')
    })
    let lost = false
    const onLost = (error?: Error) => {
      if (lost || closed) return
      lost = true
      handlers.onState(false)
      if (error) emit({ type: 'connection-error', where: 'idle', error })
      c.end().catch(() => {})
      const delay = Math.min(5_000, 100 * 2 ** Math.min(attempt++, 6))
      setTimeout(() => void connect().catch(() => onLost()), delay).unref()
    }
    c.on('error', onLost)
    c.on('end', () => onLost())
    client = c
    await c.connect()
    await c.query(`LISTEN ${channel}`)
    attempt = 0
    if (!closed) handlers.onState(true)
  }
  await connect()
  return {
    async close() {
      closed = true
      await client?.end().catch(() => {})
    },
  }
}
