// The page a person sees when an authorization request cannot be sent back to the application
// (RFC 6749 §4.1.2.1: an unknown client_id or an unregistered redirect_uri must not be redirected
// to), or oidc-provider fails. What went wrong in plain words, what to do, and a reference that
// finds the request's audit entry. Never a request parameter, an error_description, a stack or
// JSON: the heading and sentences are fixed per OAuth error code (ADR-0031).

import type { KoaContextWithOIDC } from 'oidc-provider'
import { html, page } from '../../platform/http/pages/html.ts'

interface Explanation {
  readonly title: string
  readonly what: string
}

const EXPLANATIONS: Record<string, Explanation> = {
  invalid_client: {
    title: 'Unknown application',
    what: 'The application that sent you here is not registered with Vigil, so Vigil cannot sign you in to it.',
  },
  invalid_redirect_uri: {
    title: 'Unrecognised return address',
    what: 'The application asked Vigil to send you back to an address it has not registered. To protect your account, Vigil stopped here and did not sign you in.',
  },
  server_error: {
    title: 'Sign-in is unavailable',
    what: 'Vigil could not complete the sign-in because of a problem on our side. Nothing was shared with the application.',
  },
  temporarily_unavailable: {
    title: 'Sign-in is unavailable',
    what: 'Vigil cannot sign you in just now. Nothing was shared with the application.',
  },
}

const FALLBACK: Explanation = {
  title: 'Sign-in request not valid',
  what: 'The application sent Vigil a sign-in request that Vigil cannot accept, so you were not signed in and nothing was shared with it.',
}

/** The HTML for oidc-provider's renderError: fixed text per error code, the request id as reference. */
export function oauthErrorPage(error: string, requestId: string | undefined): string {
  const code = error.replace(/[^a-z_]/g, '') || 'server_error'
  const { title, what } = EXPLANATIONS[code] ?? FALLBACK
  const retry =
    code === 'server_error' || code === 'temporarily_unavailable'
      ? 'Go back to the application and try again in a few minutes.'
      : 'Close this page and go back to the application. Trying again from the same link will not help.'
  return page(
    title,
    html`<p>${what}</p>
<h2>What to do</h2>
<p>${retry}</p>
<p>To get it fixed, tell the application's developer or your care provider's support, and give them the reference below.</p>
<dl>
<dt>Error</dt><dd><code>${code}</code></dd>
${requestId ? html`<dt>Reference</dt><dd><code>${requestId}</code></dd>` : ''}
</dl>`,
  )
}

/** The request's id, set as x-request-id by the Fastify mount, when it is one we issued. */
export function requestIdOf(ctx: Pick<KoaContextWithOIDC, 'res'>): string | undefined {
  const requestId = ctx.res.getHeader('x-request-id')
  return typeof requestId === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(requestId) ? requestId : undefined
}

export async function renderOAuthError(ctx: KoaContextWithOIDC, out: { error?: unknown }): Promise<void> {
  ctx.type = 'html'
  ctx.set('cache-control', 'no-store')
  ctx.body = oauthErrorPage(String(out.error ?? 'server_error'), requestIdOf(ctx))
}
