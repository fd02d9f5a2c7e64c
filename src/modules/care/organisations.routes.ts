// Organisations: /api/v2/organisations. Creating one is for platform administrators
// ('organisations.manage', admin only). Reading is guarded by 'users.manage': an administrator
// reads every organisation, an organisation's administrator only their own — another
// organisation answers 404, as if it did not exist (ADR-0008).

import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import type { UserService } from '../users/index.ts'
import type { OrganisationDirectory, OrganisationRecord } from './service.ts'
import { IdParam, iso, problem, Time, Uuid } from './schemas.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const CreateOrganisation = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '\\S',
      description: "Unique; shown to the organisation's users",
    }),
  },
  { additionalProperties: false, examples: [{ name: 'Riverside Cardiology' }] },
)
export const OrganisationView = Type.Object({ id: Uuid(), name: Type.String(), createdAt: Time() })
const OrganisationList = Type.Object({ organisations: Type.Array(OrganisationView) })

const present = (o: OrganisationRecord) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) })

/** 404 for an organisation the caller may not manage users of, or that does not exist. */
export async function authorizeOrganisation(
  request: FastifyRequest,
  directory: OrganisationDirectory,
  organisationId: string,
  action = 'users.manage',
): Promise<OrganisationRecord> {
  await request.authorize(action, { type: 'organisations', id: organisationId, organisationId })
  return directory.get(organisationId)
}

export function organisationRoutes(
  ctx: ModuleContext,
  deps: { users: UserService; directory: OrganisationDirectory },
): RoutePlugin {
  const { users, directory } = deps
  return async function organisations(app) {
    const tags = ['Organisations']

    app.post(
      '/organisations',
      {
        config: { policy: 'organisations.manage' },
        schema: {
          tags,
          summary: 'Create an organisation (platform administrators)',
          body: CreateOrganisation,
          response: { 201: OrganisationView, 409: problem('An organisation with this name exists') },
        },
      },
      async (request, reply) => {
        const created = await users.createOrganisation(request.body.name)
        return reply.code(201).send(present(created))
      },
    )

    app.get(
      '/organisations',
      {
        config: { policy: 'users.manage' },
        schema: {
          tags,
          summary: 'The organisations the caller administers (all of them for a platform administrator)',
          response: { 200: OrganisationList },
        },
      },
      async (request) => {
        const principal = request.principal as Principal
        const now = ctx.clock()
        const visible: OrganisationRecord[] = []
        // Decided one by one by the policy decision point (pure for organisation resources: no facts to load).
        for (const o of await directory.list()) {
          const d = await ctx.pdp.decide(
            principal,
            'users.manage',
            { type: 'organisations', id: o.id, organisationId: o.id },
            { requestId: request.id, ip: request.ip, now },
          )
          if (d.effect === 'permit') visible.push(o)
        }
        return { organisations: visible.map(present) }
      },
    )

    app.get(
      '/organisations/:id',
      {
        config: { policy: 'users.manage' },
        schema: {
          tags,
          summary: 'One organisation',
          params: IdParam,
          response: {
            200: OrganisationView,
            404: problem('No such organisation, or not one the caller administers'),
          },
        },
      },
      async (request) => present(await authorizeOrganisation(request, directory, request.params.id)),
    )
  }
}
