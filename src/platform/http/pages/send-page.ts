// Sends one of our server-rendered pages: HTML, its own CSP (nothing but our stylesheet; forms
// post to us only; no framing), never cached. X-Frame-Options: DENY, nosniff and
// Referrer-Policy: no-referrer come with every response (platform/http/request-context.ts).

import type { FastifyReply } from 'fastify'
import { page, pageCsp, type SafeHtml } from './html.ts'

export function sendPage(reply: FastifyReply, title: string, body: SafeHtml, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', pageCsp())
    .header('cache-control', 'no-store')
    .serializer(String)
    .send(page(title, body))
}

/** OpenAPI description of an HTML answer, for the route schemas. */
export function htmlResponse(description: string) {
  return { description, content: { 'text/html': { schema: { type: 'string' } } } }
}
