// Which database errors mean "the database cannot serve right now" rather than "this request is
// wrong" (ADR-0017). They become 503 problem+json with Retry-After, never 500, and the connection-
// level ones feed the database circuit breaker.

/** Retry-After (seconds) on every 503 for an unavailable database: a restart takes seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 2

/** The database could not serve the request: lost connection, restart, timeout. Retryable. */
export class DatabaseUnavailableError extends Error {
  /** SQLSTATE or errno of the underlying error, when there is one. */
  readonly reason: string | undefined
  constructor(message: string, options: { cause?: unknown; reason?: string | undefined } = {}) {
    super(message, { cause: options.cause })
    this.name = 'DatabaseUnavailableError'
    this.reason = options.reason
  }
}

// SQLSTATEs: class 08 (connection exception), 57P01 admin_shutdown, 57P02 crash_shutdown,
// 57P03 cannot_connect_now (starting up, shutting down, recovering), 53300 too_many_connections.
const CONNECTION_SQLSTATE = /^(08...|57P0[123]|53300)$/
// Timeouts the server enforced on this statement: 57014 query_canceled (statement_timeout),
// 55P03 lock_not_available (lock_timeout), 25P03 idle_in_transaction_session_timeout.
const TIMEOUT_SQLSTATE = /^(57014|55P03|25P03)$/
const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
])
// node-postgres reports a lost or unusable connection with these messages and no code.
const CONNECTION_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The database (or the way to it) is gone: open the circuit after a few of these. */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = codeOf(err)
  if (code !== undefined && (CONNECTION_SQLSTATE.test(code) || CONNECTION_ERRNO.has(code))) return true
  if (err instanceof AggregateError) return err.errors.some(isConnectionFailure) // ECONNREFUSED on ::1 and 127.0.0.1
  return CONNECTION_MESSAGE.test(err.message)
}

/** The database is up but this statement ran out of time (statement, lock or idle timeout). */
export function isTimeout(err: unknown): boolean {
  const code = codeOf(err)
  return code !== undefined && TIMEOUT_SQLSTATE.test(code)
}

/** Walks the cause chain: a DatabaseUnavailableError anywhere in it means 503. */
export function findDatabaseUnavailable(err: unknown): DatabaseUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return e
  }
  return undefined
}
