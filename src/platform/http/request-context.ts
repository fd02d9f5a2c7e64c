// Request ids: applied to every response, errors and 404s included.

import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'

// A caller-supplied id is kept only when it is short and plain, so it cannot inject into logs.
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

export function generateRequestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

export { API_CSP } from './security-headers.ts'

/** The request id on every Fastify reply (the security headers, request id included, are put on
 *  the raw response by security-headers.ts, so hijacked and oidc-provider responses carry them too). */
export function registerRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
}
