// Password-reset requests, limited per address and per IP so the form cannot be used to flood a
// mailbox or to mail-bomb many addresses from one machine (OWASP Forgot Password Cheat Sheet).
// The counters are the login throttle's fixed windows (login-throttle.repository.ts, table
// login_throttle) under keys of their own, so a reset request never counts as a failed login:
//   - 'password-reset:address:<SHA-256 of the normalised email>': 3 requests an hour, then the
//     address is refused for an hour;
//   - 'password-reset:ip:<address or IPv6 /64>': 10 requests an hour, then refused for an hour.
// Unknown addresses are counted exactly like known ones, and a refusal is silent: the caller
// answers the same page either way, so the limit says nothing about which addresses have accounts.

import { createHash } from 'node:crypto'
import type { Database } from '../../platform/db/index.ts'
import { normalizeEmail } from './email-address.ts'
import { ipKey } from './login-throttle.ts'
import { createLoginThrottleRepository, type FixedLock } from './login-throttle.repository.ts'

export interface PasswordResetThrottlePolicy {
  readonly address: FixedLock
  readonly ip: FixedLock
}

export const DEFAULT_PASSWORD_RESET_THROTTLE_POLICY: PasswordResetThrottlePolicy = {
  address: { maxFailures: 3, windowSeconds: 3600, lockSeconds: 3600 },
  ip: { maxFailures: 10, windowSeconds: 3600, lockSeconds: 3600 },
}

export interface PasswordResetThrottle {
  /** Counts one request and says whether it may mail a link. A refused request is not counted,
   *  so retrying during a lock does not lengthen it. */
  admit(request: { email: string; ip?: string | undefined }): Promise<boolean>
}

export const resetAddressKey = (email: string): string =>
  `password-reset:address:${createHash('sha256').update(normalizeEmail(email)).digest('hex')}`
export const resetIpKey = (ip: string): string => `password-reset:${ipKey(ip)}`

export function createPasswordResetThrottle(deps: {
  db: Database
  clock: () => Date
  policy?: PasswordResetThrottlePolicy
}): PasswordResetThrottle {
  const repo = createLoginThrottleRepository(deps.db)
  const policy = deps.policy ?? DEFAULT_PASSWORD_RESET_THROTTLE_POLICY
  return {
    async admit({ email, ip }) {
      const at = deps.clock()
      const counters: [string, FixedLock][] = [[resetAddressKey(email), policy.address]]
      if (ip !== undefined) counters.unshift([resetIpKey(ip), policy.ip])
      const locks = await repo.findLocks(
        counters.map(([key]) => key),
        at,
      )
      if (locks.size > 0) return false
      // The request that reaches the limit is still served; the lock it sets refuses the next. The
      // counts come back from atomic upserts, so of two racing requests past the lock check, one
      // over the limit is still refused.
      let admitted = true
      for (const [key, limit] of counters) {
        const state = await repo.recordIpFailure(key, at, limit)
        if (state.failures > limit.maxFailures) admitted = false
      }
      return admitted
    },
  }
}
