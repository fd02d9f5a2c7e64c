// POST /api/v2/me/email-verification (a signed-in user asks for the link) and the link's page,
// GET /account/verify-email/:token (public: whoever opens the mailed link holds the proof).

import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { html } from '../../platform/http/pages/html.ts'
import { htmlResponse, sendPage } from '../../platform/http/pages/send-page.ts'
import { EMAIL_VERIFICATION_PATH, type EmailVerification } from './email-verification.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'

const Token = Type.Object(
  { token: Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' }) },
  { additionalProperties: false },
)
export function emailVerificationRoutesV2(deps: { emailVerification: EmailVerification }): RoutePlugin {
  return async function emailVerificationApi(app) {
    app.post(
      '/me/email-verification',
      {
        config: { policy: 'account.read' },
        schema: {
          tags: ['Account'],
          summary:
            "Mail a single-use link that verifies the caller's email address (users only; nothing is sent when it is verified already)",
          response: {
            204: Type.Null({ description: 'The link is on its way, or the address is verified already' }),
          },
        },
      },
      async (request, reply) => {
        const p = request.principal
        if (!p) throw new Error('policy hook guarantees a principal')
        // A device or a service has no email address: only a user's own token asks for the link.
        if (p.kind !== 'user')
          throw new AppError('FORBIDDEN', 'Only a signed-in user can verify an email address')
        await deps.emailVerification.send(p.id)
        return noContent(reply)
      },
    )
  }
}

const NOT_VALID = html`<p>This link is not valid or has expired. Ask for a new one from your account.</p>`

export function emailVerificationPageRoutes(deps: { emailVerification: EmailVerification }): RoutePlugin {
  return async function emailVerificationPage(app) {
    // The token is the credential: it is in the path, so logs and traces keep the route pattern.
    const config = {
      public: 'Mailed email verification link: the token in the path is the proof of the mailbox',
      secretInPath: true,
    }

    // Opening the link only looks at the token: mail scanners that fetch links must not use it
    // up. The button posts it back, and the POST uses it.
    app.get(
      `${EMAIL_VERIFICATION_PATH}/:token`,
      {
        config,
        schema: {
          summary:
            'The page of a mailed email verification link: a button to confirm (HTML; the link is not used yet)',
          tags: ['Sign-in'],
          params: Token,
          response: {
            200: htmlResponse('The confirmation form'),
            410: htmlResponse('The link was used, has expired or never existed'),
          },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        if (!(await deps.emailVerification.isUsable(token)))
          return sendPage(reply, 'Link not valid', NOT_VALID, 410)
        return sendPage(
          reply,
          'Confirm your email address',
          html`<p>Confirm that this is the email address of your Vigil account.</p>
<form method="post" action="${EMAIL_VERIFICATION_PATH}/${token}"><button type="submit">Confirm my email address</button></form>`,
        )
      },
    )

    // No CSRF token: the path's token is itself the proof, and whoever holds it may use it.
    app.post(
      `${EMAIL_VERIFICATION_PATH}/:token`,
      {
        config,
        schema: {
          summary: 'Confirm the email address of a mailed verification link: uses the link once (HTML)',
          tags: ['Sign-in'],
          params: Token,
          response: {
            200: htmlResponse('The email address is verified'),
            410: htmlResponse('The link was used, has expired or never existed'),
          },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        if (await deps.emailVerification.confirm(token)) {
          return sendPage(
            reply,
            'Email verified',
            html`<p>Thank you: the email address of your Vigil account is verified. You can close this page.</p>`,
          )
        }
        // The same answer for an unknown, used or expired link: it says nothing about any account.
        return sendPage(reply, 'Link not valid', NOT_VALID, 410)
      },
    )
  }
}
