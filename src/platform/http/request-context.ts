// Request ids and security headers: applied to every response, errors and 404s included.

import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

// A caller-supplied id is kept only when it is short and plain, so it cannot inject into logs.
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

export function generateRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/** The CSP for JSON responses: nothing may load, nothing may frame it. Pages set their own. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

export function registerRequestContext(app: FastifyInstance, options: { tls: boolean }): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cross-origin-opener-policy', 'same-origin')
    reply.header('cross-origin-resource-policy', 'same-origin')
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', API_CSP)
    // Health data must not sit in shared caches; a route that wants caching says so.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    // HSTS only where the client reached us over TLS (natively or through a trusted proxy).
    if (options.tls || request.protocol === 'https') reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains')
    return payload
  })
}
