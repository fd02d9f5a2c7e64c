// Our own login, second-factor and consent pages for oidc-provider's interactions. They work
// without JavaScript, carry a CSRF token bound to the interaction, deny framing, use the
// autocomplete tokens password managers rely on, and never say whether an account exists.

import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { Type } from 'typebox'
import type { Queryable } from '../../platform/db/index.ts'
import type { AccountDirectory } from './account-directory.ts'
import { cookieValue, DEVICE_COOKIE, type DeviceCookies } from './device-cookies.ts'
import { formActionTargetOf, html, page, pageCsp } from '../../platform/http/pages/html.ts'
import { fhirUserOf, SMART_ERRORS } from './smart.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'
import * as pendingLogins from './pending-logins.repository.ts'

const LOGIN_FAILED =
  'The email or password is not right, or there were too many attempts. Wait a minute and try again.'
const CODE_FAILED =
  'That code is not right, was already used, or there were too many attempts. Try the next code.'
const PENDING_LOGIN_TTL_SECONDS = 600

export interface InteractionDeps {
  readonly provider: Provider
  readonly accounts: AccountDirectory
  readonly db: Queryable
  readonly cookieSecret: string
  /**
   * Asked before a consent is granted (ADR-0010): a registered device paired through the device
   * authorization grant is bound to the approving patient here; 'refuse' ends the request with
   * access_denied (a device paired with another patient, or an approver with no patient record).
   */
  readonly beforeConsent?: (c: { clientId: string; accountId: string }) => Promise<'ok' | { refuse: string }>
  /** Sign-in device cookies (ADR-0014): a browser that signed in before is not held back by a stranger's failures. */
  readonly deviceCookies?: DeviceCookies
  /** Cookies carry Secure (PUBLIC_URL is https). */
  readonly secureCookies?: boolean
}

const Uid = Type.Object(
  { uid: Type.String({ pattern: '^[A-Za-z0-9_-]{10,64}$' }) },
  { additionalProperties: false },
)
const HtmlPage = { 200: { description: 'HTML page', content: { 'text/html': { schema: Type.String() } } } }
const Redirect = {
  303: {
    description: 'Continue the authorization request',
    content: { 'text/plain': { schema: Type.String() } },
  },
}

const LoginForm = Type.Object(
  {
    email: Type.String({ maxLength: 320 }),
    password: Type.String({ maxLength: 1024 }),
    csrf: Type.String({ maxLength: 128 }),
  },
  {
    additionalProperties: false,
    examples: [
      { email: 'patient@demo.test', password: 'correct horse battery staple', csrf: 'token-from-the-form' },
    ],
  },
)
const CodeForm = Type.Object(
  { code: Type.String({ maxLength: 64 }), csrf: Type.String({ maxLength: 128 }) },
  { additionalProperties: false, examples: [{ code: '123456', csrf: 'token-from-the-form' }] },
)
const CsrfForm = Type.Object(
  { csrf: Type.String({ maxLength: 128 }) },
  { additionalProperties: false, examples: [{ csrf: 'token-from-the-form' }] },
)
const ConsentForm = Type.Object(
  {
    decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
    csrf: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false, examples: [{ decision: 'allow', csrf: 'token-from-the-form' }] },
)

type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>

export function interactionRoutes(deps: InteractionDeps): RoutePlugin {
  const { provider, accounts, db } = deps

  const csrfFor = (uid: string) =>
    createHmac('sha256', deps.cookieSecret).update(`csrf:${uid}`).digest('base64url')
  const csrfValid = (uid: string, given: string) => {
    const expected = Buffer.from(csrfFor(uid))
    const actual = Buffer.from(given)
    // Timing-safe compare: a plain === leaks how many bytes matched.
    return actual.length === expected.length && timingSafeEqual(actual, expected)
  }

  /** The redirect target the browser will reach after our form posts (CSP form-action). */
  function formTargets(details: InteractionDetails): string[] {
    const redirectUri =
      typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : undefined
    const target = redirectUri ? formActionTargetOf(redirectUri) : undefined
    return target ? [target] : []
  }

  function render(
    reply: FastifyReply,
    details: InteractionDetails,
    title: string,
    body: ReturnType<typeof html>,
    status = 200,
  ) {
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', pageCsp(formTargets(details)))
      .header('cache-control', 'no-store')
      .serializer(String)
      .send(page(title, body))
  }

  const loginPage = (uid: string, error?: string, email = '') => html`
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login" novalidate>
<input type="hidden" name="csrf" value="${csrfFor(uid)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${email}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p><a href="/account/password-reset">Forgot your password?</a></p>`

  const codePage = (uid: string, error?: string) => html`
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/totp">
<input type="hidden" name="csrf" value="${csrfFor(uid)}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" required>
<button type="submit">Verify</button>
</form>`

  const enrolPage = (
    uid: string,
    enrolment: { qrSvgDataUrl: string; secretBase32: string },
    error?: string,
  ) => html`
<p>Your role requires a second factor. Scan this code with an authenticator app, then enter the code it shows.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<img src="${enrolment.qrSvgDataUrl}" alt="QR code for your authenticator app" width="200" height="200">
<p>Or enter this key by hand: <code>${enrolment.secretBase32}</code></p>
<form method="post" action="/interaction/${uid}/enrol">
<input type="hidden" name="csrf" value="${csrfFor(uid)}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Confirm</button>
</form>`

  async function details(request: FastifyRequest, reply: FastifyReply): Promise<InteractionDetails> {
    return provider.interactionDetails(request.raw, reply.raw)
  }

  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    result: Parameters<Provider['interactionFinished']>[2],
  ) {
    reply.hijack()
    await provider.interactionFinished(request.raw, reply.raw, result, { mergeWithLastSubmission: false })
  }

  async function pendingLogin(uid: string) {
    return pendingLogins.pendingLogin(db, uid)
  }

  async function grantConsent(request: FastifyRequest, reply: FastifyReply, d: InteractionDetails) {
    const accountId = d.session?.accountId
    const clientId = String(d.params.client_id)
    if (!accountId) throw new Error('consent without a session')
    const verdict = deps.beforeConsent ? await deps.beforeConsent({ clientId, accountId }) : 'ok'
    if (verdict !== 'ok')
      return finish(request, reply, { error: 'access_denied', error_description: verdict.refuse })
    // SMART App Launch §2.0.10: fhirUser for a user with no FHIR identity cannot be honoured.
    if (
      String(d.params.scope ?? '')
        .split(' ')
        .includes('fhirUser') &&
      !(await fhirUserOf(accounts, '', accountId))
    ) {
      return finish(request, reply, { error: 'access_denied', error_description: SMART_ERRORS.noFhirUser })
    }
    const grant = d.grantId
      ? await provider.Grant.find(d.grantId)
      : new provider.Grant({ accountId, clientId })
    if (!grant) throw new Error('grant not found')
    const missing = d.prompt.details as {
      missingOIDCScope?: string[]
      missingOIDCClaims?: string[]
      missingResourceScopes?: Record<string, string[]>
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '))
    const grantId = await grant.save()
    await finish(request, reply, { consent: { grantId } })
  }

  return async function interactionPlugin(app) {
    const reason = 'Login, second-factor and consent pages: the user is signing in'

    app.get(
      '/interaction/:uid',
      {
        config: { public: reason },
        schema: {
          summary: 'The sign-in step an authorization request is waiting on (HTML)',
          tags: ['Sign-in'],
          params: Uid,
          response: HtmlPage,
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const uid = d.uid
        if (d.prompt.name === 'login') {
          const pending = await pendingLogin(uid)
          if (pending?.next_step === 'verify-totp')
            return render(reply, d, 'Two-step verification', codePage(uid))
          return render(reply, d, 'Sign in', loginPage(uid))
        }
        if (d.prompt.name === 'consent') {
          const client = await provider.Client.find(String(d.params.client_id))
          if ((client?.metadata() as { first_party?: boolean } | undefined)?.first_party)
            return grantConsent(request, reply, d)
          const scopes = String(d.params.scope ?? '')
            .split(' ')
            .filter(Boolean)
          return render(
            reply,
            d,
            'Allow access?',
            html`<p><strong>${client?.clientName ?? d.params.client_id}</strong> asks to:</p>
<ul>${scopes.map((s) => html`<li>${s}</li>`)}</ul>
<form method="post" action="/interaction/${uid}/consent">
<input type="hidden" name="csrf" value="${csrfFor(uid)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
          )
        }
        return render(
          reply,
          d,
          'Sign-in could not continue',
          html`<p>Return to the application and try again.</p>`,
          400,
        )
      },
    )

    app.post(
      '/interaction/:uid/login',
      {
        config: { public: reason },
        schema: {
          summary: 'Submit email and password',
          tags: ['Sign-in'],
          params: Uid,
          body: LoginForm,
          response: { ...HtmlPage, ...Redirect },
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const body = request.body
        if (d.prompt.name !== 'login' || !csrfValid(d.uid, body.csrf))
          return render(reply, d, 'Sign in', loginPage(d.uid, 'The form expired. Sign in again.'), 403)
        const cookies = deps.deviceCookies
        const device = cookies?.read(cookieValue(request.headers.cookie, DEVICE_COOKIE), new Date())
        const result = await accounts.checkPassword({
          email: body.email,
          password: body.password,
          ip: request.ip,
          trustedDevice: device,
        })
        if (!result.ok) return render(reply, d, 'Sign in', loginPage(d.uid, LOGIN_FAILED, body.email), 401)
        // This browser knows the password: its next attempts are counted on it alone (ADR-0014).
        // On the raw response, since finish() hands the reply to oidc-provider.
        if (cookies)
          reply.raw.appendHeader(
            'set-cookie',
            cookies.setCookieHeader(cookies.issue(result.account.id, new Date()), {
              secure: deps.secureCookies ?? false,
            }),
          )
        if (result.secondFactor === 'none')
          return finish(request, reply, { login: { accountId: result.account.id, amr: ['pwd'] } })

        await pendingLogins.savePendingLogin(db, {
          interactionUid: d.uid,
          accountId: result.account.id,
          nextStep: result.secondFactor === 'enrol' ? 'enrol-totp' : 'verify-totp',
          ttlSeconds: PENDING_LOGIN_TTL_SECONDS,
        })
        if (result.secondFactor === 'verify')
          return render(reply, d, 'Two-step verification', codePage(d.uid))
        const enrolment = await accounts.startTotpEnrolment(result.account.id)
        return render(reply, d, 'Set up two-step verification', enrolPage(d.uid, enrolment))
      },
    )

    app.post(
      '/interaction/:uid/totp',
      {
        config: { public: reason },
        schema: {
          summary: 'Submit the second-factor code',
          tags: ['Sign-in'],
          params: Uid,
          body: CodeForm,
          response: { ...HtmlPage, ...Redirect },
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const body = request.body
        const pending = await pendingLogin(d.uid)
        if (
          d.prompt.name !== 'login' ||
          !pending ||
          pending.next_step !== 'verify-totp' ||
          !csrfValid(d.uid, body.csrf)
        ) {
          return render(reply, d, 'Sign in', loginPage(d.uid, 'The form expired. Sign in again.'), 403)
        }
        const check = await accounts.verifyTotp({
          accountId: pending.account_id,
          code: body.code.replaceAll(' ', ''),
          ip: request.ip,
        })
        if (!check.ok) return render(reply, d, 'Two-step verification', codePage(d.uid, CODE_FAILED), 401)
        await pendingLogins.deletePendingLogin(db, d.uid)
        return finish(request, reply, {
          login: { accountId: pending.account_id, amr: ['pwd', 'otp'], acr: 'urn:vigil:acr:mfa' },
        })
      },
    )

    app.post(
      '/interaction/:uid/enrol',
      {
        config: { public: reason },
        schema: {
          summary: 'Confirm second-factor enrolment with a first code',
          tags: ['Sign-in'],
          params: Uid,
          body: CodeForm,
          response: { ...HtmlPage, ...Redirect },
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const body = request.body
        const pending = await pendingLogin(d.uid)
        if (
          d.prompt.name !== 'login' ||
          !pending ||
          pending.next_step !== 'enrol-totp' ||
          !csrfValid(d.uid, body.csrf)
        ) {
          return render(reply, d, 'Sign in', loginPage(d.uid, 'The form expired. Sign in again.'), 403)
        }
        // The factor is enrolled and the sign-in moves on in one transaction; the recovery codes
        // are shown once, then "Continue" finishes the login.
        const confirmed = await accounts.confirmTotpEnrolment({
          accountId: pending.account_id,
          code: body.code.replaceAll(' ', ''),
          alsoInTransaction: (tx) => pendingLogins.markEnrolled(tx, d.uid),
        })
        if (!confirmed.ok) return render(reply, d, 'Sign in', loginPage(d.uid, CODE_FAILED), 401)
        return render(
          reply,
          d,
          'Save your recovery codes',
          html`<p>Each code signs you in once if you lose your authenticator. They are not shown again.</p>
<ul class="codes">${confirmed.recoveryCodes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<form method="post" action="/interaction/${d.uid}/continue"><input type="hidden" name="csrf" value="${csrfFor(d.uid)}"><button type="submit">Continue</button></form>`,
        )
      },
    )

    app.post(
      '/interaction/:uid/continue',
      {
        config: { public: reason },
        schema: {
          summary: 'Finish sign-in after second-factor enrolment',
          tags: ['Sign-in'],
          params: Uid,
          body: CsrfForm,
          response: { ...HtmlPage, ...Redirect },
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const body = request.body
        const pending = await pendingLogin(d.uid)
        if (d.prompt.name !== 'login' || pending?.next_step !== 'enrolled' || !csrfValid(d.uid, body.csrf)) {
          return render(reply, d, 'Sign in', loginPage(d.uid, 'The form expired. Sign in again.'), 403)
        }
        await pendingLogins.deletePendingLogin(db, d.uid)
        return finish(request, reply, {
          login: { accountId: pending.account_id, amr: ['pwd', 'otp'], acr: 'urn:vigil:acr:mfa' },
        })
      },
    )

    app.post(
      '/interaction/:uid/consent',
      {
        config: { public: reason },
        schema: {
          summary: 'Allow or deny the access an application asks for',
          tags: ['Sign-in'],
          params: Uid,
          body: ConsentForm,
          response: { ...HtmlPage, ...Redirect },
        },
      },
      async (request, reply) => {
        const d = await details(request, reply)
        const body = request.body
        if (d.prompt.name !== 'consent' || !csrfValid(d.uid, body.csrf))
          return render(reply, d, 'Sign-in could not continue', html`<p>The form expired.</p>`, 403)
        if (body.decision === 'deny')
          return finish(request, reply, {
            error: 'access_denied',
            error_description: 'The user denied access',
          })
        return grantConsent(request, reply, d)
      },
    )

    app.get(
      '/assets/vigil.css',
      { config: { public: 'Stylesheet of the sign-in pages' }, schema: { hide: true } },
      async (_request, reply) =>
        reply
          .type('text/css; charset=utf-8')
          .header('cache-control', 'public, max-age=3600')
          .send(
            'body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}label{display:block;margin-top:1rem}input{display:block;width:100%;padding:.5rem;font-size:1rem}button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.error{color:#a00;border:1px solid #a00;padding:.5rem}',
          ),
    )
  }
}
