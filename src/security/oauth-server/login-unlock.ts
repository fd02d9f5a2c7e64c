// The e-mailed unlock link of a delayed sign-in (ADR-0014). When a stranger's failures start
// delaying an account, its owner gets a mail (at most one every 15 minutes) with a one-time link;
// the link's page asks for one click (a mail scanner's GET spends nothing), which gives this
// browser a sign-in device cookie, so the owner signs in at once and stays exempt from the delay
// that strangers' attempts still get. No CAPTCHA. The mail goes out after, and apart from,
// the sign-in answer: its timing and content are the same whether a mail is sent or not.
//
// The link's token travels only in the URL path of the mail, as the reset link's does: the pages
// send Referrer-Policy: no-referrer, and the request log records the route pattern (secretInPath).

import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { Type } from 'typebox'
import type { DeviceCookies } from './device-cookies.ts'
import type { Mailer } from '../../platform/mail/index.ts'
import { createFormCsrf } from '../../platform/http/pages/form-csrf.ts'
import { html } from '../../platform/http/pages/html.ts'
import { htmlResponse, sendPage } from '../../platform/http/pages/send-page.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

/** The unlock tokens (the users module's login-throttle-unlock.ts). */
export interface UnlockTokens {
  issue(
    userId: string,
  ): Promise<{ readonly token: string; readonly email: string; readonly expiresAt: Date } | undefined>
  peek(token: string): Promise<string | undefined>
  consume(token: string): Promise<string | undefined>
}

export interface LoginUnlockDeps {
  readonly unlock: UnlockTokens
  readonly mailer: Mailer
  readonly deviceCookies: DeviceCookies
  readonly cookieSecret: string
  readonly publicUrl: string
  readonly logger: Logger
  readonly clock?: () => Date
}

const Token = Type.Object(
  { token: Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' }) },
  { additionalProperties: false },
)
const UnlockForm = Type.Object(
  { csrf: Type.String({ maxLength: 128 }) },
  { additionalProperties: false, examples: [{ csrf: 'token-from-the-form' }] },
)
const LINK_UNUSABLE =
  'This link cannot be used: it was already used or it has expired. Sign in again; if you are held back, a new link is sent.'

export function loginUnlock(deps: LoginUnlockDeps): {
  readonly routes: RoutePlugin
  notifyDelayed(userId: string): void
} {
  const clock = deps.clock ?? (() => new Date())
  const secure = deps.publicUrl.startsWith('https://')
  const csrf = createFormCsrf({ secret: deps.cookieSecret, secureCookies: secure })
  const inFlight = new Set<Promise<void>>()

  async function deliver(userId: string): Promise<void> {
    try {
      const link = await deps.unlock.issue(userId)
      if (!link) return
      const url = `${deps.publicUrl}/account/unlock/${link.token}`
      const intro =
        'Someone tried to sign in to your Vigil account with a wrong password several times, so sign-in attempts for it are being slowed down.'
      const what =
        'If that was you, or to sign in now from this device anyway, open this link within 60 minutes and confirm:'
      const outro =
        'The link works once and only unlocks sign-in on the browser that opens it; your password is still needed. If you did not try to sign in, someone may be guessing your password: consider changing it.'
      await deps.mailer.send({
        to: link.email,
        subject: 'Sign-in attempts on your Vigil account',
        text: `${intro}\n\n${what}\n\n${url}\n\n${outro}\n`,
        html: html`<p>${intro}</p><p>${what}</p><p><a href="${url}">${url}</a></p><p>${outro}</p>`.html,
      })
    } catch (err) {
      // Names the relay and the reason (MailError), never the address or the link.
      deps.logger.error({ err }, 'login unlock: the link could not be mailed')
    }
  }

  const unusable = (reply: FastifyReply) =>
    sendPage(reply, 'Link not valid', html`<p>${LINK_UNUSABLE}</p>`, 410)
  const confirmPage = (token: string) => html`
<p>Confirm to let this browser sign in to your account again now. You will still need your password.</p>
<form method="post" action="/account/unlock/${token}">
<input type="hidden" name="csrf" value="${csrf.token('login-unlock', token)}">
<button type="submit">Unlock sign-in on this browser</button>
</form>`

  const routes: RoutePlugin = async (app) => {
    const reason =
      'Sign-in unlock link: the user is held back from signing in, so no credential can be asked for; the mailed token authenticates the request'
    app.addHook('onClose', async () => {
      await Promise.allSettled([...inFlight])
    })

    app.get(
      '/account/unlock/:token',
      {
        config: { public: reason, secretInPath: true },
        schema: {
          summary: 'The page of a mailed sign-in unlock link (HTML)',
          tags: ['Sign-in'],
          params: Token,
          response: {
            200: htmlResponse('HTML page'),
            410: htmlResponse('The link was used, has expired or never existed'),
          },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        if (!(await deps.unlock.peek(token))) return unusable(reply)
        return sendPage(reply, 'Unlock sign-in', confirmPage(token))
      },
    )

    app.post(
      '/account/unlock/:token',
      {
        config: { public: reason, secretInPath: true },
        schema: {
          summary: 'Use a mailed sign-in unlock link: this browser may sign in despite the delay',
          tags: ['Sign-in'],
          params: Token,
          body: UnlockForm,
          response: {
            200: htmlResponse('HTML page'),
            403: htmlResponse('The form expired (CSRF check failed)'),
            410: htmlResponse('The link was used, has expired or never existed'),
          },
        },
      },
      async (request, reply) => {
        const { token } = request.params
        const body = request.body
        if (!(await deps.unlock.peek(token))) return unusable(reply)
        if (!csrf.valid('login-unlock', token, body.csrf))
          return sendPage(reply, 'Unlock sign-in', confirmPage(token), 403)
        const userId = await deps.unlock.consume(token)
        if (!userId) return unusable(reply)
        reply.header(
          'set-cookie',
          deps.deviceCookies.setCookieHeader(deps.deviceCookies.issue(userId, clock()), { secure }),
        )
        return sendPage(
          reply,
          'Sign-in unlocked',
          html`<p>This browser can sign in to your account again. Return to the application and sign in.</p>`,
        )
      },
    )
  }

  return {
    routes,
    notifyDelayed(userId) {
      if (inFlight.size >= 100) {
        deps.logger.warn('login unlock: too many mails in flight; notice dropped')
        return
      }
      const task = deliver(userId).finally(() => inFlight.delete(task))
      inFlight.add(task)
    },
  }
}
