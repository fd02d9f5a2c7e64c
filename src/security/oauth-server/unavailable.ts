// The OAuth endpoints (served by oidc-provider) answer a database outage as the API does: 503 with
// Retry-After, never the library's 500 server_error (ADR-0025). oidc-provider catches every error
// inside its own route handlers and renders it as `server_error` (500); it reports the original
// error through its `server_error` event, synchronously, before the response leaves. This marks
// the request there, and the outermost middleware rewrites the response it sees marked (or any
// database-unavailable error that escapes oidc-provider's handlers):
//
// - a client asking for JSON (token, introspection, revocation, userinfo, device authorization,
//   PAR, registration…) gets `{"error":"temporarily_unavailable"}`: the RFC 6749 §4.1.2.1 code,
//   which OAuth client libraries surface as a retryable error, with Retry-After beside it;
// - a browser (authorization, end-session, device verification pages) gets the sign-in error page
//   of ADR-0031 that says to try again, with the same status and header. No redirect to the client: with the
//   database gone, the client and its redirect URI cannot be checked.

import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'

/** The parts of a Koa context used here (oidc-provider's contexts and plain Koa ones alike). */
type Ctx = Pick<KoaContextWithOIDC, 'status' | 'set' | 'remove' | 'accepts' | 'type' | 'body' | 'res'>
import { DATABASE_RETRY_AFTER_SECONDS, findDatabaseUnavailable } from '../../platform/db/unavailable.ts'
import { oauthErrorPage, requestIdOf } from './error-page.ts'

const MARK = Symbol('vigil.databaseUnavailable')

type Marked = object & { [MARK]?: true }

export const OAUTH_UNAVAILABLE_ERROR = 'temporarily_unavailable'

function answerUnavailable(ctx: Ctx): void {
  ctx.status = 503
  ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS))
  ctx.set('Cache-Control', 'no-store')
  ctx.remove('Location')
  if (ctx.accepts('json', 'html') === 'html') {
    // The same page as every other sign-in error a person meets (ADR-0031), with the reference.
    ctx.type = 'html'
    ctx.body = oauthErrorPage(OAUTH_UNAVAILABLE_ERROR, requestIdOf(ctx))
  } else {
    ctx.type = 'application/json; charset=utf-8'
    ctx.body = {
      error: OAUTH_UNAVAILABLE_ERROR,
      error_description: 'The service is temporarily unavailable; retry after the Retry-After delay',
    }
  }
}

/** Must be the provider's first `use()`: it wraps every other middleware and route. */
export function answerDatabaseOutagesWith503(provider: Provider): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (findDatabaseUnavailable(err)) (ctx as Marked)[MARK] = true
  })
  provider.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      // Thrown outside oidc-provider's own error handlers (e.g. by a later middleware of ours).
      if (!findDatabaseUnavailable(err)) throw err
      answerUnavailable(ctx)
      return
    }
    if ((ctx as Marked)[MARK]) answerUnavailable(ctx)
  })
}
