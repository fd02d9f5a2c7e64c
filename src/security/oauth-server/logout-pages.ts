// RP-initiated logout's pages (OpenID Connect RP-Initiated Logout 1.0): the person confirms that
// they sign out, then reads that they did. Rendered with our page template (no outside fonts, no
// inline style, no scripts) instead of oidc-provider's defaults, which this server's CSP left
// unstyled; the confirmation form carries the provider's own xsrf token.

import type { KoaContextWithOIDC } from 'oidc-provider'
import { html } from '../../platform/http/pages/html.ts'
import { sendProviderPage, xsrfOf } from './provider-pages.ts'

/** The name of the app that asked, if one did (by its `id_token_hint` or `client_id`). */
function appName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc.client
  return client ? (client.clientName ?? client.clientId) : undefined
}

export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  const xsrf = xsrfOf(form)
  const app = appName(ctx)
  sendProviderPage(
    ctx,
    'Sign out?',
    html`${app ? html`<p><strong>${app}</strong> asks you to sign out.</p>` : ''}
<p>Signing out ends your session on this browser, for every app that uses it.</p>
<form method="post" action="${ctx.oidc.urlFor('end_session_confirm')}">
<input type="hidden" name="xsrf" value="${xsrf}">
<button type="submit" name="logout" value="yes">Sign out</button>
<button type="submit">Stay signed in</button>
</form>`,
  )
}

export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  const app = appName(ctx)
  sendProviderPage(
    ctx,
    'Signed out',
    html`<p>${app ? html`You are signed out of <strong>${app}</strong>.` : 'You are signed out.'} You can close this page.</p>
<p><a href="/console/">Sign in again</a></p>`,
  )
}
