// Brute-force protection for password logins, per account and per IP (OWASP Authentication
// Cheat Sheet; NIST SP 800-63B §5.2.2 rate limiting):
//   - account: after 5 failures in 15 minutes the account is locked for 1 minute; each further
//     failure (once the lock has run out) doubles the lock, capped at 15 minutes. Attempts during
//     a lock are refused unchecked and do not extend it, so a stranger cannot keep a victim out
//     for long with a trickle of requests; success resets the count.
//   - IP: after 20 failures in 15 minutes the address (an IPv6 /64) is locked for 15 minutes.
//     A locked IP is refused before the account is touched, so an attacker's locked address
//     adds nothing to the victim's account lock.
// Unknown emails are throttled exactly like accounts (keyed by a hash of the address), so a lock
// does not reveal whether an account exists. Every failure, lock and refusal is returned as an
// event for the audit trail.

import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { Database } from '../../platform/db/index.ts'
import { normalizeEmail } from './email-address.ts'
import { createLoginThrottleRepository, type AccountBackoff, type FixedLock } from './login-throttle.repository.ts'

export interface LoginThrottlePolicy {
  readonly account: AccountBackoff
  readonly ip: FixedLock
}

export const DEFAULT_LOGIN_THROTTLE_POLICY: LoginThrottlePolicy = {
  account: { maxFailures: 5, windowSeconds: 15 * 60, baseLockSeconds: 60, maxLockSeconds: 15 * 60 },
  ip: { maxFailures: 20, windowSeconds: 15 * 60, lockSeconds: 15 * 60 },
}

/** Audit-ready facts about one attempt; `key` names the counter ('account:…' or 'ip:…'). */
export type LoginEvent =
  | { readonly type: 'login.failed'; readonly key: string; readonly failures: number; readonly at: Date }
  /** This failure locked the key (or lengthened its lock). */
  | { readonly type: 'login.locked'; readonly key: string; readonly failures: number; readonly lockedUntil: Date; readonly at: Date }
  /** An attempt refused, unchecked, because the key is locked. */
  | { readonly type: 'login.blocked'; readonly key: string; readonly lockedUntil: Date; readonly at: Date }
  | { readonly type: 'login.succeeded'; readonly key: string; readonly at: Date }

export interface LoginAttempt {
  /** accountKey(userId) or unknownAccountKey(email). */
  readonly accountKey: string
  /** The client address; undefined skips the IP counter (calls not from the network). */
  readonly ip?: string | undefined
}

export type ThrottleCheck =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly lockedUntil: Date; readonly events: readonly LoginEvent[] }

export interface LoginThrottle {
  /** Before the password is checked: refuses when the IP or the account is locked. */
  check(attempt: LoginAttempt): Promise<ThrottleCheck>
  recordFailure(attempt: LoginAttempt): Promise<{ readonly lockedUntil: Date | undefined; readonly events: readonly LoginEvent[] }>
  recordSuccess(attempt: LoginAttempt): Promise<{ readonly events: readonly LoginEvent[] }>
  /** Removes counters idle for longer than their window (housekeeping; safe to run anywhere). */
  purge(): Promise<number>
}

export const accountKey = (userId: string): string => `account:${userId}`
export const unknownAccountKey = (email: string): string =>
  `account:unknown:${createHash('sha256').update(normalizeEmail(email)).digest('hex')}`

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::')
  const parts = (s: string): string[] => (s === '' ? [] : s.split(':'))
  const left = parts(head)
  const right = tail === undefined ? [] : parts(tail)
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0')
  return [...left, ...zeros, ...right].map((h) => h.toLowerCase().padStart(4, '0'))
}

/** 'ip:<IPv4>' or 'ip:<first four hextets>::/64': one IPv6 subscriber usually holds a whole /64. */
export function ipKey(ip: string): string {
  const address = ip.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1]) return `ip:${mapped[1]}`
  if (isIPv4(address)) return `ip:${address}`
  if (isIPv6(address)) return `ip:${expandIPv6(address).slice(0, 4).join(':')}::/64`
  return `ip:${address.toLowerCase()}`
}

export interface LoginThrottleDeps {
  readonly db: Database
  readonly clock: () => Date
  readonly policy?: LoginThrottlePolicy
}

export function createLoginThrottle({ db, clock, policy = DEFAULT_LOGIN_THROTTLE_POLICY }: LoginThrottleDeps): LoginThrottle {
  const repo = createLoginThrottleRepository(db)
  const keysOf = (attempt: LoginAttempt): string[] => (attempt.ip === undefined ? [attempt.accountKey] : [ipKey(attempt.ip), attempt.accountKey])

  return {
    async check(attempt) {
      const at = clock()
      // The IP first: when it is locked the account is not consulted at all.
      const locks = await repo.findLocks(keysOf(attempt), at)
      if (locks.size === 0) return { allowed: true }
      const events: LoginEvent[] = [...locks].map(([key, lockedUntil]) => ({ type: 'login.blocked', key, lockedUntil, at }))
      const lockedUntil = new Date(Math.max(...[...locks.values()].map((d) => d.getTime())))
      return { allowed: false, lockedUntil, events }
    },

    async recordFailure(attempt) {
      const at = clock()
      const events: LoginEvent[] = []
      let lockedUntil: Date | undefined
      const note = (key: string, state: { failures: number; lockedUntil: Date | null }, newLock: boolean): void => {
        events.push({ type: 'login.failed', key, failures: state.failures, at })
        if (state.lockedUntil && state.lockedUntil > at) {
          if (newLock) events.push({ type: 'login.locked', key, failures: state.failures, lockedUntil: state.lockedUntil, at })
          if (!lockedUntil || state.lockedUntil > lockedUntil) lockedUntil = state.lockedUntil
        }
      }
      if (attempt.ip !== undefined) {
        const key = ipKey(attempt.ip)
        const state = await repo.recordIpFailure(key, at, policy.ip)
        note(key, state, state.failures === policy.ip.maxFailures)
      }
      const state = await repo.recordAccountFailure(attempt.accountKey, at, policy.account)
      // Every failure at or past the threshold sets a new, longer lock.
      note(attempt.accountKey, state, state.failures >= policy.account.maxFailures)
      return { lockedUntil, events }
    },

    async recordSuccess(attempt) {
      await repo.clear(attempt.accountKey)
      return { events: [{ type: 'login.succeeded', key: attempt.accountKey, at: clock() }] }
    },

    purge() {
      const idle = Math.max(policy.account.windowSeconds, policy.ip.windowSeconds)
      return repo.purge(new Date(clock().getTime() - idle * 1000))
    },
  }
}
