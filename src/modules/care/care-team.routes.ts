// A patient's care team: /api/v2/patients/{id}/care-team[/{userId}]. Guarded by 'care-team.manage':
// a platform administrator, or an administrator of the patient's organisation (the rule reads the
// patient's organisation from its facts). A patient the caller may not manage answers 404. Only a
// clinician of the patient's organisation joins the team; membership is read by the policy
// decision point on every decision, so adding or removing takes effect on the next request.

import { Type } from 'typebox'
import type { ModuleContext } from '../context.ts'
import type { CareTeamMember, CareTeamService } from './service.ts'
import { IdParam, iso, problem, Time, Uuid } from './schemas.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'

const MemberParams = Type.Object({ id: Uuid(), userId: Uuid() }, { additionalProperties: false })
const MemberView = Type.Object({
  userId: Uuid(),
  displayName: Type.Union([Type.String(), Type.Null()]),
  organisationId: Uuid(),
  addedAt: Time(),
})
const TeamView = Type.Object({ patientId: Uuid(), members: Type.Array(MemberView) })

const present = (m: CareTeamMember) => ({
  userId: m.userId,
  displayName: m.displayName,
  organisationId: m.organisationId,
  addedAt: iso(m.addedAt),
})

export function careTeamRoutes(ctx: ModuleContext, deps: { team: CareTeamService }): RoutePlugin {
  const { team } = deps
  return async function careTeams(app) {
    const config = { policy: 'care-team.manage' } as const
    const tags = ['Care teams']
    const notFound = problem('No such patient, or not one the caller administers')

    app.get(
      '/patients/:id/care-team',
      {
        config,
        schema: {
          tags,
          summary: "The clinicians in a patient's care team",
          params: IdParam,
          response: { 200: TeamView, 404: notFound },
        },
      },
      async (request) => {
        const id = request.params.id
        await request.authorize('care-team.manage', { type: 'care-team', id, patientId: id })
        return { patientId: id, members: (await team.members(id)).map(present) }
      },
    )

    app.put(
      '/patients/:id/care-team/:userId',
      {
        config,
        schema: {
          tags,
          summary: "Put a clinician of the patient's organisation in the patient's care team (idempotent)",
          params: MemberParams,
          response: {
            200: MemberView,
            201: MemberView,
            403: problem(
              "SEGREGATION_OF_DUTIES: the caller's own account, or an account that holds an administrative role (ADR-0012); or FORBIDDEN",
            ),
            404: notFound,
            422: problem("The user is not a clinician of the patient's organisation"),
          },
        },
      },
      async (request, reply) => {
        const { id, userId } = request.params
        await request.authorize('care-team.manage', { type: 'care-team', id, patientId: id })
        const addedBy = request.principal?.kind === 'user' ? request.principal.id : null
        const { member, added } = await team.add(id, userId, addedBy, (organisationId) =>
          // Segregation of duties (ADR-0012): nobody puts themselves in a care team, and an account
          // that holds an administrative role never joins one.
          request.authorize('access.grant', {
            type: 'care-team',
            id: userId,
            organisationId,
            grant: { userId, kind: 'care-team' },
          }),
        )
        return reply.code(added ? 201 : 200).send(present(member))
      },
    )

    app.delete(
      '/patients/:id/care-team/:userId',
      {
        config,
        schema: {
          tags,
          summary: "Take a clinician out of a patient's care team",
          params: MemberParams,
          response: { 204: Type.Null({ description: 'Removed' }), 404: problem('No such patient or member') },
        },
      },
      async (request, reply) => {
        const { id, userId } = request.params
        await request.authorize('care-team.manage', { type: 'care-team', id, patientId: id })
        await team.remove(id, userId)
        return noContent(reply)
      },
    )
  }
}
