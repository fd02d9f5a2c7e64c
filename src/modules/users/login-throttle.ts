// Slowing down password guessing without locking the owner out (OWASP Authentication Cheat
// Sheet, "device cookies"; NIST SP 800-63B §5.2.2; ADR-0014 supersedes the lock of ADR-0005):
//   - account: after 5 failures in 15 minutes each further failure delays the next attempt —
//     1 minute, doubling, capped at 15 minutes. Attempts during a delay are refused unchecked and
//     do not extend it; success resets the count. The delay is the same for the owner and for a
//     stranger who does not hold a device cookie (below).
//   - client address (request.ip, resolved through TRUST_PROXY; an IPv6 /64): the same kind of
//     delay, after 50 failures in 15 minutes — far above what the people behind one NAT mistype.
//   - a browser holding a valid device cookie for the account (set on a successful sign-in, or by
//     the e-mailed unlock link, login-throttle-unlock.ts) is counted on its own key
//     'device:<id>' only: neither the account's delay nor the address's applies to it. A stranger
//     can slow down guesses at an account but cannot keep its owner out.
// Unknown emails are throttled exactly like accounts (keyed by a hash of the address), so a delay
// does not reveal whether an account exists. Every failure, delay and refusal is returned as an
// event for the audit trail.

import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { normalizeEmail } from './email-address.ts'
import { createLoginThrottleRepository, type AccountBackoff } from './login-throttle.repository.ts'

export interface LoginThrottlePolicy {
  /** Per account, and per device cookie. */
  readonly account: AccountBackoff
  /** Per client address. */
  readonly ip: AccountBackoff
}

export const DEFAULT_LOGIN_THROTTLE_POLICY: LoginThrottlePolicy = {
  account: { maxFailures: 5, windowSeconds: 15 * 60, baseLockSeconds: 60, maxLockSeconds: 15 * 60 },
  ip: { maxFailures: 50, windowSeconds: 15 * 60, baseLockSeconds: 60, maxLockSeconds: 15 * 60 },
}

/** Audit-ready facts about one attempt; `key` names the counter ('account:…' or 'ip:…'). */
export type LoginEvent =
  | { readonly type: 'login.failed'; readonly key: string; readonly failures: number; readonly at: Date }
  /** This failure locked the key (or lengthened its lock). */
  | {
      readonly type: 'login.locked'
      readonly key: string
      readonly failures: number
      readonly lockedUntil: Date
      readonly at: Date
    }
  /** An attempt refused, unchecked, because the key is locked. */
  | { readonly type: 'login.blocked'; readonly key: string; readonly lockedUntil: Date; readonly at: Date }
  | { readonly type: 'login.succeeded'; readonly key: string; readonly at: Date }

export interface LoginAttempt {
  /** accountKey(userId) or unknownAccountKey(email). */
  readonly accountKey: string
  /** The client address; undefined skips the IP counter (calls not from the network). */
  readonly ip?: string | undefined
  /** The id of a device cookie verified for this very account (login-throttle-device.ts): the attempt is counted on that device alone. */
  readonly trustedDevice?: string | undefined
}

export type ThrottleCheck =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly lockedUntil: Date; readonly events: readonly LoginEvent[] }

export interface LoginThrottle {
  /** Before the password is checked: refuses when the IP or the account is locked. */
  check(attempt: LoginAttempt): Promise<ThrottleCheck>
  recordFailure(
    attempt: LoginAttempt,
  ): Promise<{ readonly lockedUntil: Date | undefined; readonly events: readonly LoginEvent[] }>
  /** Clears the delay; on `q` when given (the transaction that set a new password). */
  recordSuccess(attempt: LoginAttempt, q?: Queryable): Promise<{ readonly events: readonly LoginEvent[] }>
  /** Removes counters idle for longer than their window (housekeeping; safe to run anywhere). */
  purge(): Promise<number>
}

export const accountKey = (userId: string): string => `account:${userId}`
export const deviceKey = (deviceId: string): string => `device:${deviceId}`
/** The user id of an account key ('account:<uuid>'); undefined for unknown-email and other keys. */
export const userIdOfAccountKey = (key: string): string | undefined =>
  /^account:([0-9a-f-]{36})$/.exec(key)?.[1]
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
  const address = ip
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
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

export function createLoginThrottle({
  db,
  clock,
  policy = DEFAULT_LOGIN_THROTTLE_POLICY,
}: LoginThrottleDeps): LoginThrottle {
  const repo = createLoginThrottleRepository(db)
  const keysOf = (attempt: LoginAttempt): string[] => {
    if (attempt.trustedDevice !== undefined) return [deviceKey(attempt.trustedDevice)]
    return attempt.ip === undefined ? [attempt.accountKey] : [ipKey(attempt.ip), attempt.accountKey]
  }

  return {
    async check(attempt) {
      const at = clock()
      // The IP first: when it is locked the account is not consulted at all.
      const locks = await repo.findLocks(keysOf(attempt), at)
      if (locks.size === 0) return { allowed: true }
      const events: LoginEvent[] = [...locks].map(([key, lockedUntil]) => ({
        type: 'login.blocked',
        key,
        lockedUntil,
        at,
      }))
      const lockedUntil = new Date(Math.max(...[...locks.values()].map((d) => d.getTime())))
      return { allowed: false, lockedUntil, events }
    },

    async recordFailure(attempt) {
      const at = clock()
      const events: LoginEvent[] = []
      let lockedUntil: Date | undefined
      const note = (
        key: string,
        state: { failures: number; lockedUntil: Date | null },
        newLock: boolean,
      ): void => {
        events.push({ type: 'login.failed', key, failures: state.failures, at })
        if (state.lockedUntil && state.lockedUntil > at) {
          if (newLock)
            events.push({
              type: 'login.locked',
              key,
              failures: state.failures,
              lockedUntil: state.lockedUntil,
              at,
            })
          if (!lockedUntil || state.lockedUntil > lockedUntil) lockedUntil = state.lockedUntil
        }
      }
      if (attempt.trustedDevice !== undefined) {
        // A device cookie holder is slowed on its own key; the account and address are untouched.
        const key = deviceKey(attempt.trustedDevice)
        const state = await repo.recordAccountFailure(key, at, policy.account)
        note(key, state, state.failures >= policy.account.maxFailures)
        return { lockedUntil, events }
      }
      if (attempt.ip !== undefined) {
        const key = ipKey(attempt.ip)
        const state = await repo.recordAccountFailure(key, at, policy.ip)
        note(key, state, state.failures >= policy.ip.maxFailures)
      }
      const state = await repo.recordAccountFailure(attempt.accountKey, at, policy.account)
      // Every failure at or past the threshold sets a new, longer delay.
      note(attempt.accountKey, state, state.failures >= policy.account.maxFailures)
      return { lockedUntil, events }
    },

    async recordSuccess(attempt, q) {
      // The owner signing in through a device cookie clears that device's count only: the
      // account's delay for strangers stays, so an owner's sign-ins give a guesser no fresh tries.
      if (attempt.trustedDevice !== undefined) await repo.clear(deviceKey(attempt.trustedDevice), q)
      else await repo.clear(attempt.accountKey, q)
      return { events: [{ type: 'login.succeeded', key: attempt.accountKey, at: clock() }] }
    },

    purge() {
      const idle = Math.max(policy.account.windowSeconds, policy.ip.windowSeconds)
      return repo.purge(new Date(clock().getTime() - idle * 1000))
    },
  }
}
