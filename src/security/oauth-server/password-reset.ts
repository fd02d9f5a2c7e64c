// Password reset by mail (OWASP Forgot Password Cheat Sheet): a request form, a single-use link
// of at most 30 minutes sent over SMTP, and the link's page to choose a new password — our own
// server-rendered pages (see ADR-0005). A completed reset ends every session, grant and token of
// the account (revoke-account.ts).
//
// Nothing here says whether an account exists: a request gets the same page, status and headers
// for every address, and the work that differs — looking the address up, issuing the token,
// talking to the SMTP relay — starts only once that page has been sent (onResponse), so the
// response's timing cannot differ either. Doing the work before answering and padding the unknown
// case with a dummy token would still leave the SMTP round trip (hundreds of milliseconds, and a
// relay that stalls) on the known case only. The cost: a mail that fails is not reported to the
// requester, only logged (without the address or the link); they ask again.
//
// The link's token travels only in the URL path of the mail. The pages send
// Referrer-Policy: no-referrer and <meta name="referrer">, the request log and traces record the
// route pattern instead of the path (config.secretInPath), and the link's GET page only peeks at
// the token — a mail scanner that fetches the link does not use it up.

import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Mailer } from '../../platform/mail/index.ts'
import { emailAddressProblem } from '../../platform/mail/email-address.ts'
import type { AccountDirectory } from './account-directory.ts'
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

export interface PasswordResetDeps {
  readonly accounts: Pick<
    AccountDirectory,
    'requestPasswordReset' | 'findPasswordResetAccount' | 'completePasswordReset'
  >
  readonly mailer: Mailer
  readonly cookieSecret: string
  /** The origin the mailed link points to (PUBLIC_URL). */
  readonly publicUrl: string
  /** Reset mails being prepared or sent at once; requests beyond are dropped (and logged). */
  readonly maxMailsInFlight?: number
  readonly clock?: () => Date
}

const SENT =
  'If an account exists for that address, we sent a link to choose a new password. The link works once, for 30 minutes. Nothing arrived? Check the address and your spam folder, and ask again in a few minutes.'
const FORM_EXPIRED = 'The form expired. Please try again.'
const LINK_UNUSABLE =
  'This link cannot be used: it was already used, it has expired, or a newer link replaced it.'

const Token = Type.Object(
  { token: Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' }) },
  { additionalProperties: false },
)
const RequestForm = Type.Object(
  { email: Type.String({ maxLength: 320 }), csrf: Type.String({ maxLength: 128 }) },
  { additionalProperties: false, examples: [{ email: 'patient@demo.test', csrf: 'token-from-the-form' }] },
)
const ResetForm = Type.Object(
  {
    newPassword: Type.String({ maxLength: 1024 }),
    confirmPassword: Type.String({ maxLength: 1024 }),
    csrf: Type.String({ maxLength: 128 }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        newPassword: 'lantern orchard seventeen',
        confirmPassword: 'lantern orchard seventeen',
        csrf: 'token-from-the-form',
      },
    ],
  },
)

const Page = htmlResponse('HTML page')
const BadAddress = htmlResponse(
  'The address does not meet the email policy (ADR-0015): the form again with the reason',
)
const Expired = htmlResponse('The form expired (CSRF check failed): the form again')
const Gone = htmlResponse('The link was used, has expired or never existed')
const Refused = htmlResponse(
  'The new password was refused (policy, or the two differ): the form again with the reasons',
)

interface MailJob {
  readonly email: string
  readonly ip: string
}

export function passwordResetRoutes(deps: PasswordResetDeps): RoutePlugin {
  const { accounts, mailer } = deps
  const clock = deps.clock ?? (() => new Date())
  const maxInFlight = deps.maxMailsInFlight ?? 100
  const csrf = createFormCsrf({
    secret: deps.cookieSecret,
    secureCookies: deps.publicUrl.startsWith('https://'),
  })
  const jobs = new WeakMap<FastifyRequest, MailJob>()
  const inFlight = new Set<Promise<void>>()

  const requestForm = (nonce: string, error?: string) => html`
<p>Enter the email address of your account. We will send you a link to choose a new password.</p>
${errorBlock(error)}
<form method="post" action="/account/password-reset">
<input type="hidden" name="csrf" value="${csrf.token('password-reset-request', nonce)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" maxlength="320" required>
<button type="submit">Send the link</button>
</form>`

  const resetForm = (token: string, email: string, error?: string | readonly string[]) => html`
${errorBlock(error)}
<form method="post" action="/account/password-reset/${token}">
<input type="hidden" name="csrf" value="${csrf.token('password-reset', token)}">
${usernameHint(email)}
${newPasswordFields()}
<button type="submit">Set the new password</button>
</form>`

  const unusable = (reply: FastifyReply) =>
    sendPage(
      reply,
      'Link not valid',
      html`<p>${LINK_UNUSABLE}</p><p><a href="/account/password-reset">Ask for a new link</a></p>`,
      410,
    )

  function mailFor(link: { token: string; expiresAt: Date }) {
    const url = `${deps.publicUrl}/account/password-reset/${link.token}`
    const minutes = Math.max(1, Math.round((link.expiresAt.getTime() - clock().getTime()) / 60_000))
    const intro = 'Someone asked to reset the password of the Vigil account for this email address.'
    const outro =
      'The link works once. If you did not ask for it, ignore this message: your password stays as it is.'
    return {
      subject: 'Reset your Vigil password',
      text: `${intro}\n\nTo choose a new password, open this link within ${minutes} minutes:\n\n${url}\n\n${outro}\n`,
      html: html`<p>${intro}</p><p>To choose a new password, open this link within ${minutes} minutes:</p><p><a href="${url}">${url}</a></p><p>${outro}</p>`
        .html,
    }
  }

  /** After the response: the lookup, the token and the SMTP conversation. Never throws. */
  async function deliver(job: MailJob, log: FastifyRequest['log']): Promise<void> {
    try {
      const link = await accounts.requestPasswordReset(job)
      if (!link) return
      await mailer.send({ to: link.email, ...mailFor(link) })
    } catch (err) {
      // The error names the relay and the reason (MailError), never the address or the link.
      log.error({ err }, 'password reset: the link could not be mailed')
    }
  }

  return async function passwordResetPlugin(app) {
    const reason = 'Password reset: the user cannot sign in, so no credential can be asked for'

    app.addHook('onClose', async () => {
      await Promise.allSettled([...inFlight])
    })

    app.get(
      '/account/password-reset',
      {
        config: { public: reason },
        schema: {
          summary: 'The form to ask for a password reset link (HTML)',
          tags: ['Sign-in'],
          response: { 200: Page },
        },
      },
      async (request, reply) =>
        sendPage(reply, 'Reset your password', requestForm(csrf.nonce(request, reply))),
    )

    app.post(
      '/account/password-reset',
      {
        config: { public: reason },
        schema: {
          summary: 'Ask for a password reset link by mail; the same answer for every address',
          tags: ['Sign-in'],
          body: RequestForm,
          response: { 200: Page, 400: BadAddress, 403: Expired },
        },
        onResponse: async (request) => {
          const job = jobs.get(request)
          if (!job) return
          if (inFlight.size >= maxInFlight) {
            request.log.warn('password reset: too many mails in flight; request dropped')
            return
          }
          const task = deliver(job, request.log).finally(() => inFlight.delete(task))
          inFlight.add(task)
        },
      },
      async (request, reply) => {
        const body = request.body
        const nonce = csrf.existingNonce(request)
        if (!nonce || !csrf.valid('password-reset-request', nonce, body.csrf)) {
          return sendPage(
            reply,
            'Reset your password',
            requestForm(csrf.nonce(request, reply), FORM_EXPIRED),
            403,
          )
        }
        // The email policy (ADR-0015) says nothing about which addresses have accounts: refuse a look-alike at once.
        const emailProblem = emailAddressProblem(body.email)
        if (emailProblem)
          return sendPage(
            reply,
            'Reset your password',
            requestForm(nonce, `The email address ${emailProblem}.`),
            400,
          )
        jobs.set(request, { email: body.email.trim(), ip: request.ip })
        return sendPage(reply, 'Check your email', html`<p>${SENT}</p>`)
      },
    )

    app.get(
      '/account/password-reset/:token',
      {
        config: { public: reason, secretInPath: true },
        schema: {
          summary: 'The page of a mailed reset link: the form to choose a new password (HTML)',
          tags: ['Sign-in'],
          params: Token,
          response: { 200: Page, 410: Gone },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        const account = await accounts.findPasswordResetAccount(token)
        if (!account) return unusable(reply)
        return sendPage(reply, 'Choose a new password', resetForm(token, account.email))
      },
    )

    app.post(
      '/account/password-reset/:token',
      {
        config: { public: reason, secretInPath: true },
        schema: {
          summary: 'Set a new password with a mailed reset link; signs the account out everywhere',
          tags: ['Sign-in'],
          params: Token,
          body: ResetForm,
          response: { 200: Page, 403: Expired, 410: Gone, 422: Refused },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        const body = request.body
        const account = await accounts.findPasswordResetAccount(token)
        if (!account) return unusable(reply)
        const again = (error: string | readonly string[], status: number) =>
          sendPage(reply, 'Choose a new password', resetForm(token, account.email, error), status)
        if (!csrf.valid('password-reset', token, body.csrf)) return again(FORM_EXPIRED, 403)
        if (body.newPassword !== body.confirmPassword) return again(PASSWORDS_DIFFER, 422)

        // Single use, atomically (users module: one UPDATE … WHERE used_at IS NULL).
        // Whoever knew the old password — or held a session or a token — loses access with the
        // change, in its transaction: a failure leaves both undone and the link usable.
        const result = await accounts.completePasswordReset({
          token,
          newPassword: body.newPassword,
          alsoInTransaction: (tx, accountId) => revokeAllForAccountIn(tx, accountId),
        })
        if (!result.ok)
          return result.reason === 'policy' ? again(policyProblems(result.problems), 422) : unusable(reply)
        return sendPage(
          reply,
          'Your password is changed',
          html`<p>Every app and browser that was signed in to your account has been signed out. Sign in again with your new password.</p>`,
        )
      },
    )
  }
}
