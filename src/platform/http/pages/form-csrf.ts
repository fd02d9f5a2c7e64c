// CSRF tokens for the account pages' forms (OWASP CSRF Prevention Cheat Sheet, "signed double
// submit cookie" and "HMAC-based token" patterns). A form's token is an HMAC, keyed by
// COOKIE_SECRET, of the form's purpose and of a value bound to the visitor:
//   - a signed-in form (password change): the oidc-provider session's uid, which only the holder
//     of the session cookie knows;
//   - a reset link's form: the link's token, which only the holder of the mailed link knows;
//   - the anonymous reset-request form: a random nonce in an HttpOnly, SameSite=Strict cookie set
//     with the form (__Host- prefixed under HTTPS, so a sibling domain cannot plant one).
// A cross-site page can neither read the token nor compute it, and the purpose keeps a token of
// one form from being replayed into another. No state is stored on the server.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

export type FormPurpose = 'password-reset-request' | 'password-reset' | 'password-change' | 'login-unlock'

export interface FormCsrf {
  token(purpose: FormPurpose, binding: string): string
  valid(purpose: FormPurpose, binding: string, given: string): boolean
  /** The anonymous visitor's nonce from its cookie, or a new one (cookie set on `reply`). */
  nonce(request: FastifyRequest, reply: FastifyReply): string
  /** The nonce cookie of the request, if any: a POST without one fails the check. */
  existingNonce(request: FastifyRequest): string | undefined
}

const NONCE = /^[A-Za-z0-9_-]{43}$/
const NONCE_MAX_AGE_SECONDS = 3600

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

export function createFormCsrf(options: { secret: string; secureCookies: boolean }): FormCsrf {
  // RFC 6265bis §4.1.3.2: a __Host- cookie must be Secure, have Path=/ and no Domain.
  const cookieName = options.secureCookies ? '__Host-vigil-form' : 'vigil-form'
  const attributes = `Path=/; Max-Age=${NONCE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict${options.secureCookies ? '; Secure' : ''}`
  const token = (purpose: FormPurpose, binding: string) =>
    createHmac('sha256', options.secret).update(`csrf:${purpose}:${binding}`).digest('base64url')
  const existingNonce = (request: FastifyRequest) => {
    const value = readCookie(request.headers.cookie, cookieName)
    return value !== undefined && NONCE.test(value) ? value : undefined
  }

  return {
    token,
    valid(purpose, binding, given) {
      const expected = Buffer.from(token(purpose, binding))
      const actual = Buffer.from(given)
      // Timing-safe compare: a plain === leaks how many bytes matched.
      return actual.length === expected.length && timingSafeEqual(actual, expected)
    },
    existingNonce,
    nonce(request, reply) {
      const existing = existingNonce(request)
      if (existing) return existing
      const fresh = randomBytes(32).toString('base64url')
      reply.header('set-cookie', `${cookieName}=${fresh}; ${attributes}`)
      return fresh
    },
  }
}
