// The security headers of every response, whoever writes it (issue 11, finding 7; ADR-0013).
// One source of truth: securityHeaders() is the set. registerSecurityHeaders() puts it on the raw
// Node response as the request arrives, so Fastify's replies, replies that were hijacked (the
// oidc-provider hand-off, the interaction redirects) and oidc-provider's own pages and errors all
// carry it; a route may still set its own CSP or Cache-Control (Fastify's reply headers win over
// the raw defaults when the head is written). clientErrorHandler() answers what never becomes a
// request — an over-long URL or header block (431), a malformed request line (400), a request
// timeout (408) — as problem+json with the same set.

import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { PROBLEM_TYPE_BASE } from './errors.ts'

/** The CSP for JSON responses: nothing may load, nothing may frame it. Pages set their own. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/** The CSP for the OAuth protocol endpoints (oidc-provider): its few pages post to this origin
 *  only; `script-src 'none'` is present so oidc-provider can add the hash of an inline script it
 *  writes (it adds a hash only to an existing script-src). */
export const PROTOCOL_CSP =
  "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** The same policy with one more target its forms may post to (form-action); a policy without form-action is returned as it is. */
export function withFormActionTarget(csp: string, target: string): string {
  return csp
    .split(';')
    .map((directive) => {
      const [name, ...values] = directive.trim().split(/\s+/)
      if (name !== 'form-action' || values.includes(target)) return directive.trim()
      return [name, ...values.filter((v) => v !== "'none'"), target].join(' ')
    })
    .join('; ')
}

/** HSTS: two years, subdomains included; sent only on responses the client received over TLS. */
export const HSTS = 'max-age=63072000; includeSubDomains'

/** The set. `https`: the client reached us over TLS (natively, or through a trusted proxy). */
export function securityHeaders(options: { https: boolean; csp?: string }): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'content-security-policy': options.csp ?? API_CSP,
    // Health data must not sit in shared caches; a route that wants caching says so.
    'cache-control': 'no-store',
    ...(options.https ? { 'strict-transport-security': HSTS } : {}),
  }
}

export interface SecurityHeaderOptions {
  /** Native TLS: every response is over TLS. */
  readonly tls: boolean
  /** Path prefixes served by the OAuth protocol (oidc-provider): PROTOCOL_CSP instead of API_CSP. */
  readonly protocolPaths?: readonly string[]
}

export function registerSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions): void {
  const protocolPaths = options.protocolPaths ?? []
  app.addHook('onRequest', async (request, reply) => {
    const path = request.routeOptions.url ?? ''
    const protocol = protocolPaths.some((p) => path === p || path.startsWith(`${p}/`))
    const headers = securityHeaders({
      https: options.tls || request.protocol === 'https',
      ...(protocol ? { csp: PROTOCOL_CSP } : {}),
    })
    for (const [name, value] of Object.entries(headers)) reply.raw.setHeader(name, value)
    reply.raw.setHeader('x-request-id', request.id)
  })
}

const CLIENT_ERRORS: Record<string, { status: number; code: string; title: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    title: 'The request line or headers are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    title: 'The request took too long to arrive',
  },
}
const MALFORMED = { status: 400, code: 'MALFORMED_REQUEST', title: 'The request is not valid HTTP' }

/** Fastify's clientErrorHandler: a problem+json answer with the security headers, for requests
 *  Node's parser refused before they became requests. Nothing of the input is echoed or logged. */
export function clientErrorHandler(options: { tls: boolean }) {
  return function onClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const { status, code, title } = (err.code && CLIENT_ERRORS[err.code]) || MALFORMED
    const requestId = randomUUID()
    const body = JSON.stringify({
      type: PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-'),
      title,
      status,
      instance: `urn:vigil:request:${requestId}`,
      code,
      requestId,
    })
    const headers = {
      ...securityHeaders({ https: options.tls }),
      'x-request-id': requestId,
      'content-type': 'application/problem+json',
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close',
    }
    this.log.debug({ errCode: err.code, status }, 'client error before a request was parsed')
    if (socket.writable) {
      const head = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${head}\r\n\r\n${body}`)
    }
    socket.destroy()
  }
}
