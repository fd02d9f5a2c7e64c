// The e-mailed unlock link of a delayed sign-in (ADR-0014): CAPTCHA-free, one-time. When a
// failure starts delaying a real account, its owner is mailed a link (at most one every 15
// minutes, so a stranger cannot mail-bomb them); opening it and confirming gives that browser a
// sign-in device cookie (security/oauth-server/device-cookies.ts), so the owner signs in whatever
// a stranger keeps doing, while the account's delay stays for everyone else. Only the token's SHA-256 is stored; the link works once, for an hour.

import type { Database } from '../../platform/db/index.ts'
import { generateAccountToken, hashAccountToken } from './account-token.ts'

export const UNLOCK_TTL_SECONDS = 3600
export const UNLOCK_MIN_INTERVAL_SECONDS = 15 * 60

export interface LoginUnlock {
  /** A new link's token for an active account, unless one was issued in the last 15 minutes; with the address to mail it to. */
  issue(
    userId: string,
  ): Promise<{ readonly token: string; readonly email: string; readonly expiresAt: Date } | undefined>
  /** The account a usable token unlocks (the token stays usable: a mail scanner's GET does not spend it). */
  peek(token: string): Promise<string | undefined>
  /** Spends the token; the account id, or undefined when not usable. */
  consume(token: string): Promise<string | undefined>
}

export function createLoginUnlock(deps: { db: Database; clock: () => Date }): LoginUnlock {
  const { db, clock } = deps
  return {
    async issue(userId) {
      const now = clock()
      return db.transaction(async (tx) => {
        const { rows: users } = await tx.query<{ email: string }>(
          "SELECT email FROM users WHERE id = $1 AND status = 'active' FOR UPDATE",
          [userId],
        )
        const email = users[0]?.email
        if (!email) return undefined
        const recent = await tx.query(
          'SELECT 1 FROM login_unlock_tokens WHERE user_id = $1 AND created_at > $2::timestamptz',
          [userId, new Date(now.getTime() - UNLOCK_MIN_INTERVAL_SECONDS * 1000).toISOString()],
        )
        if (recent.rows.length > 0) return undefined
        await tx.query(
          'DELETE FROM login_unlock_tokens WHERE user_id = $1 AND (expires_at < $2::timestamptz OR used_at IS NOT NULL)',
          [userId, now.toISOString()],
        )
        const token = generateAccountToken()
        const expiresAt = new Date(now.getTime() + UNLOCK_TTL_SECONDS * 1000)
        await tx.query(
          'INSERT INTO login_unlock_tokens (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)',
          [hashAccountToken(token), userId, expiresAt.toISOString(), now.toISOString()],
        )
        return { token, email, expiresAt }
      })
    },

    async peek(token) {
      const { rows } = await db.query<{ user_id: string }>(
        'SELECT user_id FROM login_unlock_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz',
        [hashAccountToken(token), clock().toISOString()],
      )
      return rows[0]?.user_id
    },

    async consume(token) {
      const now = clock().toISOString()
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<{ user_id: string }>(
          'UPDATE login_unlock_tokens SET used_at = $2::timestamptz WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz RETURNING user_id',
          [hashAccountToken(token), now],
        )
        // The account's delay stays for everyone else: the owner gets in by the device cookie the
        // caller sets, and a stranger gains no fresh attempts from the owner's click.
        return rows[0]?.user_id
      })
    },
  }
}
