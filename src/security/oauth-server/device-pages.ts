// The device authorization grant's pages (RFC 8628 §3.3): the patient types the code a device
// shows, confirms it is their device, signs in, and approves. Rendered with our page template
// (no outside fonts, no scripts) instead of oidc-provider's defaults; the forms carry the
// provider's own xsrf token.

import type { KoaContextWithOIDC } from 'oidc-provider'
import { html, page, pageCsp } from '../../platform/http/pages/html.ts'

function xsrfOf(form: string): string {
  return /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? ''
}

function send(ctx: KoaContextWithOIDC, title: string, body: ReturnType<typeof html>): void {
  ctx.type = 'html'
  ctx.set('content-security-policy', pageCsp())
  ctx.set('cache-control', 'no-store')
  ctx.body = page(title, body)
}

export async function userCodeInputSource(
  ctx: KoaContextWithOIDC,
  form: string,
  _out?: unknown,
  err?: Error & { userCode?: string },
): Promise<void> {
  const message = err
    ? err.userCode || err.name === 'NoCodeError'
      ? 'That code is not right or has expired. Try again.'
      : 'The request could not continue. Enter the code again, or start again on your device.'
    : undefined
  send(
    ctx,
    'Connect a device',
    html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<form method="post" action="${ctx.oidc.urlFor('code_verification')}">
<input type="hidden" name="xsrf" value="${xsrfOf(form)}">
<label for="user_code">Code shown on your device</label>
<input id="user_code" name="user_code" type="text" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required>
<button type="submit">Continue</button>
</form>`,
  )
}

/**
 * A code form posted without the browser session it was made in (cookies blocked, or the session
 * gone): there is no session to hold a new form's secret, so the person starts again from the link.
 */
export function sessionLostPage(ctx: KoaContextWithOIDC): void {
  send(
    ctx,
    'Connect a device',
    html`<p class="error" role="alert">This page has expired, or your browser did not send its cookie.</p>
<p><a href="${ctx.oidc.urlFor('code_verification')}">Enter the code shown on your device again</a></p>`,
  )
}

export async function userCodeConfirmSource(
  ctx: KoaContextWithOIDC,
  form: string,
  client: { clientName?: string; clientId: string },
  _deviceInfo: unknown,
  userCode: string,
): Promise<void> {
  const action = ctx.oidc.urlFor('code_verification')
  const xsrf = xsrfOf(form)
  send(
    ctx,
    'Is this your device?',
    html`<p><strong>${client.clientName ?? client.clientId}</strong> asks to connect to your account.</p>
<p>Your device should show this code: <code>${userCode}</code></p>
<p>If you did not start this, or the code differs, choose Abort.</p>
<form method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${userCode}">
<button type="submit" name="confirm" value="yes">Continue</button>
<button type="submit" name="abort" value="yes">Abort</button>
</form>`,
  )
}

export async function successSource(ctx: KoaContextWithOIDC): Promise<void> {
  send(ctx, 'Device connected', html`<p>Your device is connected. You can close this page.</p>`)
}
