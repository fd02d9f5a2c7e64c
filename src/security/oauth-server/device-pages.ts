// The device authorization grant's pages (RFC 8628 §3.3): the patient types the code a device
// shows, confirms it is their device, signs in, and approves. Rendered with our page template
// (no outside fonts, no scripts) instead of oidc-provider's defaults; the forms carry the
// provider's own xsrf token.

import type { KoaContextWithOIDC } from 'oidc-provider'
import { html } from '../../platform/http/pages/html.ts'
import { sendProviderPage, xsrfOf } from './provider-pages.ts'

/** What the code form says above itself when it is shown again after a refusal. */
function refusalMessageOf(err: Error & { userCode?: string }): string {
  if (err.name === 'NoCodeError') return 'Enter the code your device shows.'
  // Not found, expired, or used (decided, or in another browser's hands): one message, so a person
  // typing codes learns nothing about a code they do not have.
  if (err.userCode)
    return 'That code is not right, has expired, or has already been used. Check the code your device shows, or start again on the device for a new one.'
  return 'The request could not continue. Enter the code again, or start again on your device.'
}

export async function userCodeInputSource(
  ctx: KoaContextWithOIDC,
  form: string,
  _out?: unknown,
  err?: Error & { userCode?: string },
): Promise<void> {
  const message = err ? refusalMessageOf(err) : undefined
  sendProviderPage(
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
  sendProviderPage(
    ctx,
    'Connect a device',
    html`<p class="error" role="alert">This page has expired, or your browser did not send its cookie.</p>
<p><a href="${ctx.oidc.urlFor('code_verification')}">Enter the code shown on your device again</a></p>`,
  )
}

/**
 * The person refused the device (Abort at the confirmation, or Deny at consent), or pressed Abort
 * again on a code already refused: the device gets access_denied, and the page says what happened
 * instead of offering the refused code's form again.
 */
export function notConnectedPage(ctx: KoaContextWithOIDC): void {
  sendProviderPage(
    ctx,
    'Device not connected',
    html`<p role="status">The device was not connected, and it cannot use this code. You can close this page.</p>
<p><a href="${ctx.oidc.urlFor('code_verification')}">Connect a device with another code</a></p>`,
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
  sendProviderPage(
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
  sendProviderPage(ctx, 'Device connected', html`<p>Your device is connected. You can close this page.</p>`)
}
