// Sign-in device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"; ADR-0014): a
// browser that signed in to an account — or opened that account's e-mailed unlock link (login-unlock.ts) — gets a
// signed cookie naming the account and a random device id. Its next sign-in attempts for that
// account are counted on the device alone (users module, login-throttle.ts), so a stranger's failures, which delay the account and
// the address, never keep the owner out. The cookie is stateless: an HMAC under a key derived
// from COOKIE_SECRET, with its own expiry; it grants nothing but exemption from the shared delay
// (the password and second factor are still asked for).

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'

export const DEVICE_COOKIE = 'vigil_login_device'
export const DEVICE_COOKIE_MAX_AGE_SECONDS = 180 * 24 * 3600

export interface DeviceCookies {
  /** A new cookie value for this account (a fresh device id). */
  issue(accountId: string, now: Date): string
  /** The device id when `value` is a valid, unexpired cookie for `accountId`; else undefined. */
  verify(value: string | undefined, accountId: string, now: Date): string | undefined
  /** The account a valid cookie names (before the account is known), with its device id. */
  read(
    value: string | undefined,
    now: Date,
  ): { readonly accountId: string; readonly deviceId: string } | undefined
  /** The Set-Cookie header for a value. */
  setCookieHeader(value: string, options: { secure: boolean }): string
}

const VALUE = /^([A-Za-z0-9_-]{1,200})\.([A-Za-z0-9_-]{43})$/

export function createDeviceCookies(cookieSecret: string): DeviceCookies {
  const key = Buffer.from(
    hkdfSync('sha256', Buffer.from(cookieSecret, 'utf8'), Buffer.alloc(0), 'vigil login device cookie', 32),
  )
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest('base64url')

  function read(value: string | undefined, now: Date) {
    const m = value ? VALUE.exec(value) : null
    if (!m?.[1] || !m[2]) return undefined
    const expected = Buffer.from(mac(m[1]))
    if (!timingSafeEqual(expected, Buffer.from(m[2]))) return undefined
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'))
    } catch {
      return undefined
    }
    const { a, d, e } = (body ?? {}) as { a?: unknown; d?: unknown; e?: unknown }
    if (typeof a !== 'string' || typeof d !== 'string' || typeof e !== 'number' || e * 1000 <= now.getTime())
      return undefined
    return { accountId: a, deviceId: d }
  }

  return {
    issue(accountId, now) {
      const payload = Buffer.from(
        JSON.stringify({
          a: accountId,
          d: randomBytes(16).toString('base64url'),
          e: Math.floor(now.getTime() / 1000) + DEVICE_COOKIE_MAX_AGE_SECONDS,
        }),
      ).toString('base64url')
      return `${payload}.${mac(payload)}`
    },
    verify(value, accountId, now) {
      const cookie = read(value, now)
      return cookie && cookie.accountId === accountId ? cookie.deviceId : undefined
    },
    read,
    setCookieHeader(value, { secure }) {
      // Path=/: the sign-in pages (/interaction/…) and the unlock page (/account/unlock/…) both read it.
      return `${DEVICE_COOKIE}=${value}; Path=/; Max-Age=${DEVICE_COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
    },
  }
}

/** The value of one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
