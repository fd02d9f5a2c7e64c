// A warning when requests arrive through a proxy Vigil does not trust (ADR-0014). Behind a proxy
// that TRUST_PROXY does not name, every client has the proxy's address: the rate limit, the
// sign-in delay per address and the audit trail all see one client. Requests carrying
// X-Forwarded-For (or Forwarded) whose address did not come from it are that case; the first one
// logs a warning naming the peer (and how to fix it), then at most one an hour. Header values are
// never logged.

import type { FastifyInstance } from 'fastify'

export const UNTRUSTED_PROXY_WARNING_INTERVAL_MS = 3600_000

export function registerUntrustedProxyWarning(
  app: FastifyInstance,
  options: { trustProxy: readonly string[]; clock?: () => number },
): void {
  const clock = options.clock ?? Date.now
  let lastWarning = -Infinity
  let since = 0
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined) return
    const peer = request.socket.remoteAddress
    // Fastify resolved the client through a trusted proxy: the address is not the peer's.
    if (request.ip !== peer) return
    since++
    const now = clock()
    if (now - lastWarning < UNTRUSTED_PROXY_WARNING_INTERVAL_MS) return
    lastWarning = now
    request.log.warn(
      {
        proxyPeer: peer,
        trustProxy: options.trustProxy.length > 0 ? options.trustProxy : 'unset',
        requestsSinceLastWarning: since,
      },
      'requests arrive with X-Forwarded-For from a proxy that TRUST_PROXY does not trust: every client behind it shares its address for rate limits, sign-in delays and the audit trail; add the proxy to TRUST_PROXY',
    )
    since = 0
  })
}
