// Failed-login counters in PostgreSQL, shared by every instance. Each failure is one atomic
// upsert (INSERT … ON CONFLICT … DO UPDATE … RETURNING): concurrent failures on two instances
// both count, and the lock is computed from the row as it is at that moment.

import type { Database, Queryable } from '../../platform/db/index.ts'

export interface ThrottleState {
  readonly failures: number
  readonly lockedUntil: Date | null
}

/** Exponential delay: used for accounts, device cookies and client addresses alike. */
export interface AccountBackoff {
  readonly maxFailures: number
  readonly windowSeconds: number
  readonly baseLockSeconds: number
  readonly maxLockSeconds: number
}

/** A fixed lock after a number of events in a window (password-reset requests). */
export interface FixedLock {
  readonly maxFailures: number
  readonly windowSeconds: number
  readonly lockSeconds: number
}

export interface LoginThrottleRepository {
  /** The keys among `keys` that are locked at `now`, with their end. */
  findLocks(keys: readonly string[], now: Date): Promise<Map<string, Date>>
  recordAccountFailure(key: string, now: Date, policy: AccountBackoff): Promise<ThrottleState>
  /** Fixed window and lock (password-reset requests; sign-in uses recordAccountFailure for every key). */
  recordIpFailure(key: string, now: Date, policy: FixedLock): Promise<ThrottleState>
  /** On `q` when given (a transaction of the caller's). */
  clear(key: string, q?: Queryable): Promise<void>
  /** Deletes rows whose last failure and lock both ended before `before`; returns how many. */
  purge(before: Date): Promise<number>
}

interface StateRow {
  failures: number
  locked_until: Date | null
}
const toState = (row: StateRow | undefined): ThrottleState => ({
  failures: row?.failures ?? 0,
  lockedUntil: row?.locked_until ?? null,
})

// Parameters shared by both upserts: $1 key, $2 now, $3 window seconds, $4 failures that lock.
const NOW = '$2::timestamptz'
const WINDOW_START = `(${NOW} - $3::int * interval '1 second')`

// Account: until the threshold, failures count within a window from the first one ("5 failures in
// 15 minutes"). Past it, the count — and so the doubling back-off — runs on while failures keep
// coming, and restarts only after a window of quiet following the last failure or lock.
const ACCOUNT_RESTART = `(CASE WHEN t.failures < $4::int THEN t.window_started_at <= ${WINDOW_START}
  ELSE GREATEST(t.last_failure_at, t.locked_until) <= ${WINDOW_START} END)`
const ACCOUNT_NEXT = `(CASE WHEN ${ACCOUNT_RESTART} THEN 1 ELSE t.failures + 1 END)`
// $5 base lock seconds, $6 cap: base × 2^(failures − threshold), capped.
const lockFor = (failures: string): string =>
  `(${NOW} + LEAST($5::float8 * power(2::float8, LEAST(${failures} - $4::int, 30)), $6::float8) * interval '1 second')`

const ACCOUNT_UPSERT = `
INSERT INTO login_throttle AS t (key, failures, window_started_at, last_failure_at, locked_until)
VALUES ($1, 1, ${NOW}, ${NOW}, CASE WHEN 1 >= $4::int THEN ${lockFor('1')} END)
ON CONFLICT (key) DO UPDATE SET
  failures = ${ACCOUNT_NEXT},
  window_started_at = CASE WHEN ${ACCOUNT_RESTART} THEN ${NOW} ELSE t.window_started_at END,
  last_failure_at = ${NOW},
  -- GREATEST: a failure that raced past a running lock never shortens it
  locked_until = CASE WHEN ${ACCOUNT_NEXT} >= $4::int THEN GREATEST(t.locked_until, ${lockFor(ACCOUNT_NEXT)}) END
RETURNING failures, locked_until`

// IP: a fixed window from the first failure; a lock that has run out starts a new count. $5 lock seconds.
const IP_RESTART = `(t.window_started_at <= ${WINDOW_START} OR t.locked_until <= ${NOW})`
const IP_NEXT = `(CASE WHEN ${IP_RESTART} THEN 1 ELSE t.failures + 1 END)`
const IP_LOCK = `(${NOW} + $5::int * interval '1 second')`

const IP_UPSERT = `
INSERT INTO login_throttle AS t (key, failures, window_started_at, last_failure_at, locked_until)
VALUES ($1, 1, ${NOW}, ${NOW}, CASE WHEN 1 >= $4::int THEN ${IP_LOCK} END)
ON CONFLICT (key) DO UPDATE SET
  failures = ${IP_NEXT},
  window_started_at = CASE WHEN ${IP_RESTART} THEN ${NOW} ELSE t.window_started_at END,
  last_failure_at = ${NOW},
  locked_until = CASE WHEN t.locked_until > ${NOW} THEN t.locked_until WHEN ${IP_NEXT} >= $4::int THEN ${IP_LOCK} END
RETURNING failures, locked_until`

export function createLoginThrottleRepository(db: Database): LoginThrottleRepository {
  return {
    async findLocks(keys, now) {
      const locks = new Map<string, Date>()
      for (const key of keys) {
        const { rows } = await db.query<{ locked_until: Date }>(
          'SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2::timestamptz',
          [key, now.toISOString()],
        )
        if (rows[0]) locks.set(key, rows[0].locked_until)
      }
      return locks
    },

    async recordAccountFailure(key, now, p) {
      const { rows } = await db.query<StateRow>(ACCOUNT_UPSERT, [
        key,
        now.toISOString(),
        p.windowSeconds,
        p.maxFailures,
        p.baseLockSeconds,
        p.maxLockSeconds,
      ])
      return toState(rows[0])
    },

    async recordIpFailure(key, now, p) {
      const { rows } = await db.query<StateRow>(IP_UPSERT, [
        key,
        now.toISOString(),
        p.windowSeconds,
        p.maxFailures,
        p.lockSeconds,
      ])
      return toState(rows[0])
    },

    async clear(key, q = db) {
      await q.query('DELETE FROM login_throttle WHERE key = $1', [key])
    },

    async purge(before) {
      const { rowCount } = await db.query(
        'DELETE FROM login_throttle WHERE GREATEST(last_failure_at, locked_until) < $1::timestamptz',
        [before.toISOString()],
      )
      return rowCount
    },
  }
}
