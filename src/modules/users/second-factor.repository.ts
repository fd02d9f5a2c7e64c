// TOTP credentials and recovery codes: SQL only. Every state change that decides whether a code
// is accepted is one guarded statement, so two instances (or two requests) racing on one code
// cannot both win.

import type { Database, Queryable } from '../../platform/db/index.ts'

export interface TotpCredential {
  readonly secretSealed: string
  readonly confirmedAt: Date | null
  readonly lastUsedStep: number | null
  readonly failedCount: number
  readonly lockedUntil: Date | null
}

export interface SecondFactorFailure {
  readonly failedCount: number
  readonly lockedUntil: Date | null
}

export interface SecondFactorRepository {
  findTotp(userId: string): Promise<TotpCredential | undefined>
  /** Stores a new, unconfirmed secret; false when a confirmed one exists (remove it first). The
   *  failure count and lock are kept: restarting enrolment does not clear a lock. */
  savePendingTotp(userId: string, secretSealed: string, now: Date): Promise<boolean>
  /** Accepts time step `step` for the stored secret `secretSealed`: only if the step is later than
   *  the last one used, the factor is not locked, and the credential is (or, when confirming, is
   *  not yet) confirmed. Resets the failure count. */
  acceptTotpStep(
    userId: string,
    secretSealed: string,
    step: number,
    now: Date,
    confirming: boolean,
    q?: Queryable,
  ): Promise<boolean>
  /** Counts one failure; the `maxFailures`-th locks the factor for `lockSeconds`. A lock that has
   *  expired starts a new count. */
  recordFailure(
    userId: string,
    now: Date,
    maxFailures: number,
    lockSeconds: number,
  ): Promise<SecondFactorFailure | undefined>
  resetFailures(userId: string): Promise<void>
  deleteTotp(userId: string): Promise<void>
  /** In its own transaction, or on `q` (a transaction of the caller's). */
  replaceRecoveryCodes(userId: string, codeHashes: readonly string[], now: Date, q?: Queryable): Promise<void>
  /** Marks the code used unless it was used already or the factor is locked; true when this call used it. */
  useRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean>
  countUnusedRecoveryCodes(userId: string): Promise<number>
}

interface TotpRow {
  secret_sealed: string
  confirmed_at: Date | null
  last_used_step: number | null
  failed_count: number
  locked_until: Date | null
}

export function createSecondFactorRepository(db: Database): SecondFactorRepository {
  return {
    async findTotp(userId) {
      const { rows } = await db.query<TotpRow>(
        'SELECT secret_sealed, confirmed_at, last_used_step, failed_count, locked_until FROM totp_credentials WHERE user_id = $1',
        [userId],
      )
      const row = rows[0]
      return (
        row && {
          secretSealed: row.secret_sealed,
          confirmedAt: row.confirmed_at,
          lastUsedStep: row.last_used_step,
          failedCount: row.failed_count,
          lockedUntil: row.locked_until,
        }
      )
    },

    async savePendingTotp(userId, secretSealed, now) {
      const { rows } = await db.query(
        `INSERT INTO totp_credentials (user_id, secret_sealed, created_at) VALUES ($1, $2, $3::timestamptz)
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_used_step = NULL, created_at = EXCLUDED.created_at
         WHERE totp_credentials.confirmed_at IS NULL
         RETURNING user_id`,
        [userId, secretSealed, now.toISOString()],
      )
      return rows.length > 0
    },

    async acceptTotpStep(userId, secretSealed, step, now, confirming, q = db) {
      const { rows } = await q.query(
        `UPDATE totp_credentials
         SET last_used_step = $3, failed_count = 0, locked_until = NULL, confirmed_at = COALESCE(confirmed_at, $4::timestamptz)
         WHERE user_id = $1 AND secret_sealed = $2
           AND (last_used_step IS NULL OR last_used_step < $3)
           AND (locked_until IS NULL OR locked_until <= $4::timestamptz)
           AND (confirmed_at IS NULL) = $5
         RETURNING user_id`,
        [userId, secretSealed, step, now.toISOString(), confirming],
      )
      return rows.length > 0
    },

    async recordFailure(userId, now, maxFailures, lockSeconds) {
      // In SET every expression sees the old row: "restart" is whether the previous lock has run out.
      const restart = '(locked_until IS NOT NULL AND locked_until <= $2::timestamptz)'
      const next = `(CASE WHEN ${restart} THEN 1 ELSE failed_count + 1 END)`
      const { rows } = await db.query<{ failed_count: number; locked_until: Date | null }>(
        `UPDATE totp_credentials
         SET failed_count = ${next},
             locked_until = CASE
               WHEN locked_until > $2::timestamptz THEN locked_until
               WHEN ${next} >= $3 THEN $2::timestamptz + $4 * interval '1 second'
               ELSE NULL END
         WHERE user_id = $1
         RETURNING failed_count, locked_until`,
        [userId, now.toISOString(), maxFailures, lockSeconds],
      )
      const row = rows[0]
      return row && { failedCount: row.failed_count, lockedUntil: row.locked_until }
    },

    async resetFailures(userId) {
      await db.query('UPDATE totp_credentials SET failed_count = 0, locked_until = NULL WHERE user_id = $1', [
        userId,
      ])
    },

    async deleteTotp(userId) {
      await db.transaction(async (tx) => {
        await tx.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId])
        await tx.query('DELETE FROM totp_credentials WHERE user_id = $1', [userId])
      })
    },

    async replaceRecoveryCodes(userId, codeHashes, now, q) {
      const replace = async (tx: Queryable) => {
        await tx.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId])
        for (const codeHash of codeHashes) {
          await tx.query(
            'INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3::timestamptz)',
            [userId, codeHash, now.toISOString()],
          )
        }
      }
      await (q ? replace(q) : db.transaction(replace))
    },

    async useRecoveryCode(userId, codeHash, now) {
      const { rows } = await db.query(
        `UPDATE recovery_codes SET used_at = $3::timestamptz
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = $1 AND t.locked_until > $3::timestamptz)
         RETURNING id`,
        [userId, codeHash, now.toISOString()],
      )
      return rows.length > 0
    },

    async countUnusedRecoveryCodes(userId) {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL',
        [userId],
      )
      return rows[0]?.n ?? 0
    },
  }
}

/**
 * An administrator's reset of a user's second factor (ADR-0027): the TOTP credential, confirmed or
 * pending, and every recovery code go, inside the caller's transaction (with its audit entry).
 * Returns what was removed, for the entry; the user enrols again at their next sign-in.
 */
export async function deleteSecondFactors(
  tx: Queryable,
  userId: string,
): Promise<{ totp: boolean; recoveryCodes: number }> {
  const totp = await tx.query('DELETE FROM totp_credentials WHERE user_id = $1', [userId])
  const codes = await tx.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId])
  return { totp: (totp.rowCount ?? 0) > 0, recoveryCodes: codes.rowCount ?? 0 }
}
