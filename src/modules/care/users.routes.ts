// An organisation's users: invite, list, assign and remove roles (/api/v2/organisations/{id}/users),
// and disable or enable an account or reset its second factor (/api/v2/users/{id}/disable|enable|second-factor/reset). Guarded by 'users.manage':
// a platform administrator anywhere, an organisation's administrator within their organisation
// only — another organisation's users answer 404 (ADR-0008).

import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { revokeAllForAccount, revokeAllForAccountIn } from '../../security/oauth-server/index.ts'
import type { ModuleContext } from '../context.ts'
import { resetSecondFactor, secondFactorRequired, type UserService } from '../users/index.ts'
import { inviteUser } from './invite-user.ts'
import { authorizeOrganisation } from './organisations.routes.ts'
import type { MemberRecord, OrganisationDirectory } from './service.ts'
import { IdParam, OrganisationRoleSchema, problem, Uuid } from './schemas.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'

const InviteBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    role: OrganisationRoleSchema,
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  {
    additionalProperties: false,
    examples: [{ email: 'new.clinician@clinic.example', role: 'clinician', displayName: 'Dr. Ada Quist' }],
  },
)
const MemberView = Type.Object({
  id: Uuid(),
  email: Type.String(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  status: Type.Enum(['active', 'disabled']),
  roles: Type.Array(Type.String(), { description: 'The roles held in this organisation' }),
})
const InvitedView = Type.Object({
  ...MemberView.properties,
  invitationMailed: Type.Boolean({
    description: 'False when no mail could be sent: the invitee uses "forgot password" instead',
  }),
})
const MemberList = Type.Object({ users: Type.Array(MemberView) })
const RoleParams = Type.Object(
  { id: Uuid(), userId: Uuid(), role: OrganisationRoleSchema },
  { additionalProperties: false },
)
const StatusView = Type.Object({ id: Uuid(), status: Type.Enum(['active', 'disabled']) })
const SecondFactorResetView = Type.Object({
  id: Uuid(),
  totpRemoved: Type.Boolean({
    description: 'False when no authenticator was enrolled (the reset still ends the sessions)',
  }),
  recoveryCodesRemoved: Type.Integer({ minimum: 0 }),
  enrolAtNextSignIn: Type.Boolean({
    description:
      'True for the roles that must hold a second factor (staff): the next sign-in asks them to enrol a new authenticator',
  }),
})

const present = (m: MemberRecord) => ({
  id: m.id,
  email: m.email,
  displayName: m.displayName,
  status: m.status,
  roles: m.roles,
})

/**
 * A user account may be managed by whoever may manage users in every organisation it belongs to;
 * an account with a platform-wide role, or in no organisation, only by a platform administrator.
 * Anything else answers 404.
 */
export async function authorizeUser(
  request: FastifyRequest,
  directory: OrganisationDirectory,
  userId: string,
): Promise<void> {
  const scopes = await directory.scopesOfUser(userId)
  const targets: Array<string | null> = [...scopes.organisations]
  if (scopes.global || targets.length === 0) targets.push(null)
  for (const organisationId of targets)
    await request.authorize('users.manage', { type: 'users', id: userId, organisationId })
}

export function userRoutes(
  ctx: ModuleContext,
  deps: { users: UserService; directory: OrganisationDirectory },
): RoutePlugin {
  const { users, directory } = deps
  return async function organisationUsers(app) {
    const config = { policy: 'users.manage' } as const
    const tags = ['Organisations']

    app.post(
      '/organisations/:id/users',
      {
        config,
        schema: {
          tags,
          summary:
            'Invite a user into the organisation with a role; a mail carries a link to choose a password',
          params: IdParam,
          body: InviteBody,
          response: {
            201: InvitedView,
            404: problem('No such organisation, or not one the caller administers'),
            409: problem('An account with this email exists'),
          },
        },
      },
      async (request, reply) => {
        const organisation = await authorizeOrganisation(request, directory, request.params.id)
        const body = request.body
        const invitation = await inviteUser(
          { users, mailer: ctx.mailer, publicUrl: ctx.config.publicUrl, logger: ctx.logger },
          {
            email: body.email,
            displayName: body.displayName,
            role: body.role,
            organisation,
            requestId: request.id,
          },
        )
        const member = await directory.member(organisation.id, invitation.user.id)
        return reply.code(201).send({ ...present(member), invitationMailed: invitation.mailed })
      },
    )

    app.get(
      '/organisations/:id/users',
      {
        config,
        schema: {
          tags,
          summary: 'The users holding a role in the organisation',
          params: IdParam,
          response: {
            200: MemberList,
            404: problem('No such organisation, or not one the caller administers'),
          },
        },
      },
      async (request) => {
        const organisation = await authorizeOrganisation(request, directory, request.params.id)
        return { users: (await directory.members(organisation.id)).map(present) }
      },
    )

    app.put(
      '/organisations/:id/users/:userId/roles/:role',
      {
        config,
        schema: {
          tags,
          summary: 'Give a user a role in the organisation (idempotent)',
          params: RoleParams,
          response: {
            200: MemberView,
            403: problem(
              "SEGREGATION_OF_DUTIES: the caller's own account, an administrator's account given a clinician or caregiver role, or a clinician's or caregiver's account given an administrative role (ADR-0012); or FORBIDDEN",
            ),
            404: problem('No such organisation or user, or not one the caller administers'),
          },
        },
      },
      async (request) => {
        const { id, userId, role } = request.params
        const organisation = await authorizeOrganisation(request, directory, id)
        const member = await directory.member(organisation.id, userId)
        // Someone not yet in this organisation: only who may manage that account everywhere it is may bring it in.
        if (member.roles.length === 0) await authorizeUser(request, directory, userId)
        // Segregation of duties (ADR-0012): never to oneself; never health-data access to an
        // administrator's account, nor administration to an account that reaches health data.
        await request.authorize('access.grant', {
          type: 'role-grant',
          id: userId,
          organisationId: organisation.id,
          grant: { userId, kind: 'role', role },
        })
        return present(await directory.addRole(organisation.id, userId, role))
      },
    )

    app.delete(
      '/organisations/:id/users/:userId/roles/:role',
      {
        config,
        schema: {
          tags,
          summary: 'Take a role in the organisation away from a user',
          params: RoleParams,
          response: {
            204: Type.Null({ description: 'The role is removed' }),
            404: problem(
              'The user does not hold this role here, or the organisation is not one the caller administers',
            ),
          },
        },
      },
      async (request, reply) => {
        const { id, userId, role } = request.params
        const organisation = await authorizeOrganisation(request, directory, id)
        await directory.removeRole(organisation.id, userId, role)
        return noContent(reply)
      },
    )

    // Resetting a second factor (ADR-0027): for a user who lost their authenticator and their
    // recovery codes. Whoever may manage the account (an organisation's administrator only for
    // accounts wholly in their organisations); never one's own (segregation of duties: a stolen
    // administrator session must not be able to swap the factor that protects it). The factor and
    // the audit entry commit together; the account's sessions and tokens are revoked first, so
    // the next sign-in goes through enrolment.
    app.post(
      '/users/:id/second-factor/reset',
      {
        config,
        schema: {
          tags,
          operationId: 'resetUserSecondFactor',
          summary:
            "Reset a user's second factor (TOTP and recovery codes): their sessions end and they enrol a new authenticator at their next sign-in; audited as a security event",
          params: IdParam,
          response: {
            200: SecondFactorResetView,
            403: problem(
              "SEGREGATION_OF_DUTIES: the caller's own account; another administrator must reset it (ADR-0027)",
            ),
            404: problem('No such user, or not one the caller administers'),
          },
        },
      },
      async (request, reply) => {
        const userId = request.params.id
        await authorizeUser(request, directory, userId)
        if (request.principal?.kind === 'user' && request.principal.id === userId) {
          throw new AppError(
            'SEGREGATION_OF_DUTIES',
            'No one resets their own second factor; another administrator must (use your recovery codes on the sign-in page)',
          )
        }
        const account = await users.findById(userId)
        if (!account) throw new AppError('NOT_FOUND', 'No such user')
        await revokeAllForAccount(ctx.db, userId)
        const removed = await resetSecondFactor(ctx.db, userId, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        const principal = request.principal
        ctx.logger.warn(
          {
            securityEvent: {
              type: 'second_factor.reset',
              userId,
              by: principal ? `${principal.kind}:${principal.id}` : null,
              requestId: request.id,
            },
          },
          'second_factor.reset',
        )
        return reply.header('cache-control', 'no-store').send({
          id: userId,
          totpRemoved: removed.totp,
          recoveryCodesRemoved: removed.recoveryCodes,
          enrolAtNextSignIn: secondFactorRequired(account),
        })
      },
    )

    // Disabling stops the account at once: the authenticator reads the status on every request, and
    // the account's grants and tokens are revoked as well (so re-enabling does not revive them).
    for (const status of ['disabled', 'active'] as const) {
      app.post(
        `/users/:id/${status === 'disabled' ? 'disable' : 'enable'}`,
        {
          config,
          schema: {
            tags,
            summary:
              status === 'disabled'
                ? 'Disable a user: their tokens stop working on the next request'
                : 'Enable a disabled user (they sign in again)',
            params: IdParam,
            response: {
              200: StatusView,
              404: problem('No such user, or not one the caller administers'),
              409: problem('A user cannot disable their own account'),
            },
          },
        },
        async (request) => {
          const userId = request.params.id
          await authorizeUser(request, directory, userId)
          if (status === 'disabled' && request.principal?.kind === 'user' && request.principal.id === userId)
            throw new AppError('CANNOT_DISABLE_SELF')
          // The status and the revocation in one transaction: a failure leaves neither, never a
          // disabled account whose tokens a later enable would revive.
          await users.setStatus(
            userId,
            status,
            status === 'disabled' ? (tx) => revokeAllForAccountIn(tx, userId) : undefined,
          )
          return { id: userId, status }
        },
      )
    }
  }
}
