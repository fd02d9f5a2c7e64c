// Password change for a user signed in in this browser: the page reads the authorization server's
// own session (oidc-provider's signed session cookie, the one sign-in sets), asks for the current
// password (throttled like a login) and the new one twice. A change keeps this browser's session
// and ends every other session, every grant and every token of the account (revoke-account.ts):
// other devices and apps sign in again with the new password.

import type { FastifyReply, FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { Type } from 'typebox'
import type { AccountDirectory, DirectoryAccount } from './account-directory.ts'
import { createFormCsrf } from '../../platform/http/pages/form-csrf.ts'
import { html } from '../../platform/http/pages/html.ts'
import {
  errorBlock,
  newPasswordFields,
  PASSWORDS_DIFFER,
  policyProblems,
  usernameHint,
} from '../../platform/http/pages/password-fields.ts'
import { htmlResponse, sendPage } from '../../platform/http/pages/send-page.ts'
import { revokeAllForAccountIn } from './revoke-account.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

export interface PasswordChangeDeps {
  readonly provider: Provider
  readonly accounts: Pick<AccountDirectory, 'findAccount' | 'changePassword'>
  readonly cookieSecret: string
  readonly publicUrl: string
}

const WRONG_PASSWORD =
  'The current password is not right, or there were too many attempts. Wait a minute and try again.'
const FORM_EXPIRED = 'The form expired. Please try again.'

const ChangeForm = Type.Object(
  {
    currentPassword: Type.String({ maxLength: 1024 }),
    newPassword: Type.String({ maxLength: 1024 }),
    confirmPassword: Type.String({ maxLength: 1024 }),
    csrf: Type.String({ maxLength: 128 }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        currentPassword: 'correct horse battery staple',
        newPassword: 'lantern orchard seventeen',
        confirmPassword: 'lantern orchard seventeen',
        csrf: 'token-from-the-form',
      },
    ],
  },
)

interface SignedIn {
  readonly sessionId: string
  readonly sessionUid: string
  readonly account: DirectoryAccount
}

export function passwordChangeRoutes(deps: PasswordChangeDeps): RoutePlugin {
  const { provider, accounts } = deps
  const csrf = createFormCsrf({
    secret: deps.cookieSecret,
    secureCookies: deps.publicUrl.startsWith('https://'),
  })

  /** The signed-in, active account of this browser's session; undefined without one. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined> {
    // A Koa context over the raw request only to read the signed session cookie: nothing is written.
    const session = await provider.Session.get(provider.createContext(request.raw, reply.raw))
    if (!session.accountId) return undefined
    const account = await accounts.findAccount(session.accountId)
    if (!account || account.status !== 'active') return undefined
    return { sessionId: session.jti, sessionUid: session.uid, account }
  }

  const form = (who: SignedIn, error?: string | readonly string[]) => html`
${errorBlock(error)}
<form method="post" action="/account/password">
<input type="hidden" name="csrf" value="${csrf.token('password-change', who.sessionUid)}">
${usernameHint(who.account.email)}
<label for="current-password">Current password</label>
<input id="current-password" name="currentPassword" type="password" autocomplete="current-password" maxlength="1024" required>
${newPasswordFields()}
<button type="submit">Change the password</button>
</form>`

  const notSignedIn = (reply: FastifyReply) =>
    sendPage(
      reply,
      'Sign in first',
      html`<p>You are not signed in in this browser. Sign in through a Vigil app, then open this page again.</p>`,
      403,
    )

  return async function passwordChangePlugin(app) {
    // Public to the bearer-token layer: the route authenticates the browser session itself.
    const reason = 'Password change page: authenticated by the sign-in session cookie, not a bearer token'
    const Page = htmlResponse('HTML page')
    const Refused = htmlResponse(
      'Not signed in, the form expired, or the current password is wrong: the form or a sign-in hint',
    )

    app.get(
      '/account/password',
      {
        config: { public: reason },
        schema: {
          summary: 'The form to change the password of the signed-in user (HTML)',
          tags: ['Sign-in'],
          response: { 200: Page, 403: Refused },
        },
      },
      async (request, reply) => {
        const who = await signedIn(request, reply)
        if (!who) return notSignedIn(reply)
        return sendPage(reply, 'Change your password', form(who))
      },
    )

    app.post(
      '/account/password',
      {
        config: { public: reason },
        schema: {
          summary: 'Change the password of the signed-in user; signs every other session out',
          tags: ['Sign-in'],
          body: ChangeForm,
          response: {
            200: Page,
            403: Refused,
            422: htmlResponse(
              'The new password was refused (policy, or the two differ): the form again with the reasons',
            ),
          },
        },
      },
      async (request, reply) => {
        const who = await signedIn(request, reply)
        if (!who) return notSignedIn(reply)
        const body = request.body
        const again = (error: string | readonly string[], status: number) =>
          sendPage(reply, 'Change your password', form(who, error), status)
        if (!csrf.valid('password-change', who.sessionUid, body.csrf)) return again(FORM_EXPIRED, 403)
        if (body.newPassword !== body.confirmPassword) return again(PASSWORDS_DIFFER, 422)

        // Every other session and every token ends with the change, in its transaction.
        const result = await accounts.changePassword({
          accountId: who.account.id,
          currentPassword: body.currentPassword,
          newPassword: body.newPassword,
          ip: request.ip,
          alsoInTransaction: (tx, accountId) =>
            revokeAllForAccountIn(tx, accountId, { keepSessionUid: who.sessionUid }),
        })
        if (!result.ok)
          return result.reason === 'policy'
            ? again(policyProblems(result.problems), 422)
            : again(WRONG_PASSWORD, 403)
        return sendPage(
          reply,
          'Your password is changed',
          html`<p>You stay signed in in this browser. Every other browser, device and app signed in to your account has been signed out and must sign in with the new password.</p>`,
        )
      },
    )
  }
}
