// The caller's address as the HTTP server resolved it (Fastify's request.ip: TRUST_PROXY's
// addresses skipped from the right of X-Forwarded-For), handed to oidc-provider's side with the
// raw request. Koa's own ctx.ip takes X-Forwarded-For's leftmost entry once proxies are trusted,
// which the caller writes: an attacker could give every refused attempt another address.

import type { IncomingMessage } from 'node:http'

const addresses = new WeakMap<IncomingMessage, string>()

export function setClientAddress(raw: IncomingMessage, ip: string): void {
  addresses.set(raw, ip)
}

export function clientAddressOf(raw: IncomingMessage): string | null {
  return addresses.get(raw) ?? null
}
