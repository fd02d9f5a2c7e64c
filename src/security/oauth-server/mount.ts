// oidc-provider is a Koa application; Fastify hands it the raw request in onRequest, before any
// body parsing, and steps aside (reply.hijack). Every protocol path is registered explicitly as
// a reviewed public exception (default deny, ADR-0002): the protocol authenticates its callers.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { setClientAddress } from './client-address.ts'
import { OAUTH_ROUTES } from './provider.ts'
import { identifyPublicRefreshClient } from './public-refresh.ts'

const PUBLIC_REASON =
  'OAuth 2.0 / OpenID Connect protocol endpoint: oidc-provider authenticates clients and users itself'

export function oauthProtocolRoutes(deps: { provider: Provider; publicUrl: string }): FastifyPluginAsync {
  const callback = deps.provider.callback()
  const publicUrl = new URL(deps.publicUrl)
  const publicHost = publicUrl.host
  const publicProtocol = publicUrl.protocol.slice(0, -1) // 'https' or 'http'

  const handOff = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack()
    // The security headers (CSP, HSTS under TLS, …) are already on the raw response: the app's
    // first onRequest hook puts them there for every request (platform/http/security-headers.ts).
    const res = reply.raw
    // The address the audit entries of a refusal name: the one Fastify resolved, never Koa's.
    setClientAddress(request.raw, request.ip)
    // oidc-provider builds endpoint URLs from the request's Host: pin it to PUBLIC_URL's, so the
    // metadata always names the issuer's own host, whatever Host header a caller sends. Behind a
    // trusted proxy (TRUST_PROXY) Koa reads X-Forwarded-Host and X-Forwarded-Proto first, and
    // takes their leftmost value, which the caller writes: pin those too, or a caller could make
    // the discovery document, a form's action or a redirect name another host or scheme.
    request.raw.headers.host = publicHost
    request.raw.headers['x-forwarded-host'] = publicHost
    request.raw.headers['x-forwarded-proto'] = publicProtocol
    // RFC 8414 metadata is the same document as OpenID discovery; serve one source of truth.
    if (request.raw.url?.startsWith('/.well-known/oauth-authorization-server')) {
      request.raw.url = request.raw.url.replace(
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
      )
    }
    // A public client refreshing without client_id (RFC 6749 §6; fhirclient's default) is named from its token.
    if (request.raw.url?.split('?')[0] === OAUTH_ROUTES.token)
      await identifyPublicRefreshClient(deps.provider, request.raw)
    await callback(request.raw, res)
  }

  return async function oauthProtocolPlugin(app) {
    const paths = new Set<string>([
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
      ...Object.values(OAUTH_ROUTES),
    ])
    for (const url of paths) {
      for (const path of [url, `${url}/*`]) {
        app.route({
          method: ['GET', 'POST'],
          url: path,
          config: { public: PUBLIC_REASON, otel: { instrumentHooks: false } },
          schema: { hide: true },
          onRequest: handOff,
          handler: async () => undefined,
        })
      }
    }
  }
}
