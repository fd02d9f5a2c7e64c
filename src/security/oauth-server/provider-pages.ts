// The pages oidc-provider lets us render in its place (the device grant's, RP-initiated logout's):
// our page template with our page CSP, never cached, and the provider's xsrf token taken from the
// form it hands over, so our own form carries it.

import type { KoaContextWithOIDC } from 'oidc-provider'
import { page, pageCsp, type SafeHtml } from '../../platform/http/pages/html.ts'

/** The xsrf token in the form oidc-provider hands to a page renderer. */
export function xsrfOf(form: string): string {
  return /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? ''
}

/**
 * Answers with one of our pages. Where a form on it then sends the browser (a client's registered
 * redirect URI) is added to the CSP by the provider, once it is known to be registered.
 */
export function sendProviderPage(ctx: KoaContextWithOIDC, title: string, body: SafeHtml): void {
  ctx.type = 'html'
  ctx.set('content-security-policy', pageCsp())
  ctx.set('cache-control', 'no-store')
  ctx.body = page(title, body)
}
