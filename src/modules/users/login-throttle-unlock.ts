// The e-mailed unlock link of a delayed sign-in (ADR-0014): CAPTCHA-free, one-time. When a
// failure starts delaying a real account, its owner is mailed a link (at most one every 15
// minutes, so a stranger cannot mail-bomb them); opening it and confirming gives that browser a
// sign-in device cookie (security/oauth-server/device-cookies.ts), so the owner signs in whatever
// a stranger keeps doing, while the account's delay stays for everyone else. Only the token's SHA-256 is stored; the link works once, for an hour.

import type { Database } from '../../platform/db/index.ts'
import { generateAccountToken, hashAccountToken } from './account-token.ts'
import * as repo from './login-unlock.repository.ts'

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
        const email = await repo.lockActiveUserEmail(tx, userId)
        if (!email) return undefined
        const since = new Date(now.getTime() - UNLOCK_MIN_INTERVAL_SECONDS * 1000)
        if (await repo.unlockIssuedSince(tx, userId, since)) return undefined
        await repo.deleteSpentUnlocks(tx, userId, now)
        const token = generateAccountToken()
        const expiresAt = new Date(now.getTime() + UNLOCK_TTL_SECONDS * 1000)
        await repo.insertUnlock(tx, { tokenHash: hashAccountToken(token), userId, expiresAt, createdAt: now })
        return { token, email, expiresAt }
      })
    },

    peek: (token) => repo.usableUnlockUser(db, hashAccountToken(token), clock()),

    // The account's delay stays for everyone else: the owner gets in by the device cookie the
    // caller sets, and a stranger gains no fresh attempts from the owner's click.
    consume: (token) => repo.spendUnlock(db, hashAccountToken(token), clock()),
  }
}
