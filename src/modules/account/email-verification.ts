// Email verification by mail (SRS-AUTH-001): a signed-in user asks for a link, the link's page
// uses its token once. Tokens are 256 random bits stored only as SHA-256 hashes and live 24 hours
// (users module); the token travels only in the mailed URL's path, which the request log and
// traces record by route pattern (config.secretInPath, platform/observability/logger.ts).

import type { Mailer } from '../../platform/mail/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { html } from '../../platform/http/pages/html.ts'
import type { UserService } from '../users/index.ts'

export const EMAIL_VERIFICATION_PATH = '/account/verify-email'

export interface EmailVerificationDeps {
  readonly users: Pick<
    UserService,
    | 'findById'
    | 'createEmailVerificationToken'
    | 'consumeEmailVerificationToken'
    | 'peekEmailVerificationToken'
  >
  readonly mailer: Mailer
  /** The origin the mailed link points to (PUBLIC_URL). */
  readonly publicUrl: string
}

export interface EmailVerification {
  /** Mails a single-use link to the user's address; nothing is sent when it is verified already. */
  send(userId: string): Promise<'sent' | 'already-verified'>
  /** Whether a link's token is still usable, without using it. */
  isUsable(token: string): Promise<boolean>
  /** Uses a link's token: true once, false for an unknown, used or expired token. */
  confirm(token: string): Promise<boolean>
}

function mailFor(url: string) {
  const intro = 'Please confirm that this is the email address of your Vigil account.'
  const outro = 'The link works once, for 24 hours. If you do not have a Vigil account, ignore this message.'
  return {
    subject: 'Confirm your Vigil email address',
    text: `${intro}\n\nOpen this link to confirm it:\n\n${url}\n\n${outro}\n`,
    html: html`<p>${intro}</p><p>Open this link to confirm it:</p><p><a href="${url}">${url}</a></p><p>${outro}</p>`
      .html,
  }
}

export function createEmailVerification(deps: EmailVerificationDeps): EmailVerification {
  const { users, mailer } = deps
  return {
    async send(userId) {
      const user = await users.findById(userId)
      // The access token authenticator admits active accounts only; this guards a race with disabling.
      if (!user || user.status !== 'active') throw new AppError('FORBIDDEN')
      if (user.emailVerifiedAt !== null) return 'already-verified'
      const issued = await users.createEmailVerificationToken(user.id)
      // A failure propagates as a MailError, which names the relay and the reason, never the
      // address or the link; the error handler logs it and answers 500 with the request id only.
      await mailer.send({
        to: user.email,
        ...mailFor(`${deps.publicUrl}${EMAIL_VERIFICATION_PATH}/${issued.token}`),
      })
      return 'sent'
    },

    async isUsable(token) {
      return (await users.peekEmailVerificationToken(token)) !== undefined
    },

    async confirm(token) {
      try {
        await users.consumeEmailVerificationToken(token)
        return true
      } catch (err) {
        // Single use, atomically (users module: one UPDATE … WHERE used_at IS NULL AND expires_at > now).
        if (err instanceof AppError && err.code === 'LINK_NOT_USABLE') return false
        throw err
      }
    },
  }
}
