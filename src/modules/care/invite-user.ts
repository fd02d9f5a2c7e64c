// Inviting a user into an organisation: the account is created without a password, with one role
// in that organisation, and a mail carries a single-use link to choose a password — the password
// reset machinery's link (security/oauth-server/password-reset.ts), so there is one token store,
// one page and one set of rules (hashed tokens, ≤ 30 minutes, single use). An invitee who opens
// the link too late asks for a new one on the "forgot password" page. Completing it verifies the
// email. The token goes only into the mail: never into the response, a log line or the audit trail.

import type { Logger } from 'pino'
import type { Mailer } from '../../platform/mail/index.ts'
import { html } from '../../platform/http/pages/html.ts'
import type { User, UserService } from '../users/index.ts'
import type { OrganisationRole } from './schemas.ts'

export const PASSWORD_SET_PATH = '/account/password-reset'

export interface InviteDeps {
  readonly users: Pick<UserService, 'createUser' | 'createPasswordResetToken'>
  readonly mailer: Mailer | undefined
  readonly publicUrl: string
  readonly logger: Pick<Logger, 'warn' | 'error'>
}

export interface Invitation {
  readonly user: User
  /** Whether the invitation mail went out (false: no mailer configured, or the relay failed — the invitee uses "forgot password"). */
  readonly mailed: boolean
}

function invitationMail(organisationName: string, url: string) {
  const intro = `You have been invited to Vigil by ${organisationName}.`
  const outro =
    'The link works once, for 30 minutes. If it has expired, ask for a new one with "Forgot your password?" on the sign-in page.'
  return {
    subject: 'Your Vigil invitation',
    text: `${intro}\n\nOpen this link to choose your password:\n\n${url}\n\n${outro}\n`,
    html: html`<p>${intro}</p><p>Open this link to choose your password:</p><p><a href="${url}">${url}</a></p><p>${outro}</p>`
      .html,
  }
}

export async function inviteUser(
  deps: InviteDeps,
  input: {
    email: string
    displayName?: string | undefined
    role: OrganisationRole
    organisation: { id: string; name: string }
    requestId: string
  },
): Promise<Invitation> {
  // VALIDATION_FAILED for an implausible email, EMAIL_TAKEN when the address has an account.
  const user = await deps.users.createUser({
    email: input.email,
    displayName: input.displayName,
    roles: [{ role: input.role, organisationId: input.organisation.id }],
  })
  if (!deps.mailer) {
    deps.logger.warn(
      { requestId: input.requestId, userId: user.id },
      'invitation not mailed: no mailer in the module context',
    )
    return { user, mailed: false }
  }
  try {
    const issued = await deps.users.createPasswordResetToken(user.email)
    if (!issued) return { user, mailed: false }
    await deps.mailer.send({
      to: user.email,
      ...invitationMail(input.organisation.name, `${deps.publicUrl}${PASSWORD_SET_PATH}/${issued.token}`),
    })
    return { user, mailed: true }
  } catch (err) {
    // The account exists either way; the error names the relay and reason, never the recipient or link.
    deps.logger.error(
      { requestId: input.requestId, userId: user.id, err: err instanceof Error ? err.message : 'unknown' },
      'invitation mail failed',
    )
    return { user, mailed: false }
  }
}
