// A patient's consents: /api/v2/me/consents. The patient grants a user (clinician or caregiver) or
// an organisation access to categories of their data, read or read-write, for a purpose, until a
// date; lists them; revokes one. The policy decision point reads consents on every decision (no
// cache), so a revocation refuses the grantee's very next request. Each grant and revocation
// writes its own audit entry in the same transaction as the change (ADR-0006, ADR-0008).

import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import { CONSENT_MAX_DAYS, type ConsentRecord, type ConsentService } from './service.ts'
import { iso, problem, Time, Uuid } from './schemas.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'

const CATEGORIES = ['device-data', 'demographics', 'reports', 'devices'] as const
const PURPOSES = [
  'treatment',
  'care-coordination',
  'caregiving',
  'research',
  'payment',
  'operations',
] as const

const GrantBody = Type.Object(
  {
    granteeKind: Type.Enum(['user', 'organisation'], {
      description:
        "user: that clinician or caregiver. organisation: the organisation's clinicians (read, and write with read-write) and, for reading only, its backend services — the organisation's integrations, such as a webhook or FHIR subscription receiving the patient's new readings (ADR-0020, ADR-0028)",
    }),
    granteeId: Uuid("A clinician's or caregiver's user id, or an organisation id"),
    categories: Type.Array(Type.Enum(CATEGORIES), {
      minItems: 1,
      maxItems: CATEGORIES.length,
      uniqueItems: true,
    }),
    access: Type.Enum(['read', 'read-write']),
    purpose: Type.Enum(PURPOSES),
    expiresAt: Time(`In the future, at most ${CONSENT_MAX_DAYS} days ahead`),
  },
  {
    additionalProperties: false,
    examples: [
      {
        granteeKind: 'user',
        granteeId: '0b9f5c8e-3d2a-4f6b-9c1e-7a8d6e5f4c3b',
        categories: ['device-data', 'reports'],
        access: 'read',
        purpose: 'treatment',
        expiresAt: '2030-01-31T00:00:00Z',
      },
    ],
  },
)
const ConsentView = Type.Object({
  id: Uuid(),
  granteeKind: Type.Enum(['user', 'organisation']),
  granteeId: Uuid(),
  categories: Type.Array(Type.String()),
  access: Type.Enum(['read', 'read-write']),
  purpose: Type.String(),
  expiresAt: Time(),
  createdAt: Time(),
  revokedAt: Type.Union([Time(), Type.Null()]),
  active: Type.Boolean({ description: 'Unrevoked and unexpired: the policy decision point honours it now' }),
})
const ConsentList = Type.Object({ consents: Type.Array(ConsentView) })
const ConsentParam = Type.Object({ consentId: Uuid() }, { additionalProperties: false })

export function consentRoutes(ctx: ModuleContext, deps: { consents: ConsentService }): RoutePlugin {
  const { consents } = deps
  const present = (c: ConsentRecord) => ({
    id: c.id,
    granteeKind: c.granteeKind,
    granteeId: c.granteeId,
    categories: c.categories,
    access: c.access,
    purpose: c.purpose,
    expiresAt: iso(c.expiresAt),
    createdAt: iso(c.createdAt),
    revokedAt: c.revokedAt === null ? null : iso(c.revokedAt),
    active: c.revokedAt === null && c.expiresAt.getTime() > ctx.clock().getTime(),
  })

  /** The caller's own patient record, checked by the policy (the patient themself manages their consents). */
  async function ownRecord(request: FastifyRequest): Promise<{ principal: Principal; patientId: string }> {
    const principal = request.principal as Principal
    if (!principal.patientId) throw new AppError('NOT_FOUND', 'The caller has no patient record')
    await request.authorize('consent.manage', { type: 'consents', patientId: principal.patientId })
    return { principal, patientId: principal.patientId }
  }

  return async function consentPlugin(app) {
    const config = { policy: 'consent.manage' } as const
    const tags = ['Consent']

    app.post(
      '/me/consents',
      {
        config,
        schema: {
          tags,
          summary:
            'Grant a clinician, caregiver or organisation access to categories of my data, for a purpose, until a date',
          body: GrantBody,
          response: {
            201: ConsentView,
            404: problem('The caller has no patient record'),
            422: problem('The grantee is not an active clinician or caregiver, nor an organisation'),
          },
        },
      },
      async (request, reply) => {
        const { principal, patientId } = await ownRecord(request)
        const consent = await consents.grant(patientId, principal.id, request.body, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        return reply.code(201).send(present(consent))
      },
    )

    app.get(
      '/me/consents',
      {
        config,
        schema: {
          tags,
          summary: 'My consents, newest first, revoked and expired ones included',
          response: { 200: ConsentList, 404: problem('The caller has no patient record') },
        },
      },
      async (request) => {
        const { patientId } = await ownRecord(request)
        return { consents: (await consents.list(patientId)).map(present) }
      },
    )

    app.delete(
      '/me/consents/:consentId',
      {
        config,
        schema: {
          tags,
          summary: "Revoke one of my consents: the grantee's next request is refused",
          params: ConsentParam,
          response: {
            204: Type.Null({ description: 'Revoked (or it already was)' }),
            404: problem('No such consent of mine'),
          },
        },
      },
      async (request, reply) => {
        const { principal, patientId } = await ownRecord(request)
        await consents.revoke(patientId, request.params.consentId, principal.id, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        return noContent(reply)
      },
    )
  }
}
