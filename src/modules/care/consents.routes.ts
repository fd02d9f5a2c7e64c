// A patient's consents: /api/v2/me/consents. The patient grants a user (clinician or caregiver) or
// an organisation access to categories of their data, read or read-write, for a purpose, until a
// date; lists them; revokes one. The policy decision point reads consents on every decision (no
// cache), so a revocation refuses the grantee's very next request. Each grant and revocation
// writes its own audit entry in the same transaction as the change (ADR-0006, ADR-0008).

import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import { recordEvent } from '../events/index.ts'
import type { CareRepository, ConsentRecord } from './repository.ts'
import { iso, problem, Time, Uuid } from './schemas.ts'

/** The longest a grant may run; the patient renews it after (a forgotten grant does not last forever). */
export const CONSENT_MAX_DAYS = 730
const CATEGORIES = ['device-data', 'demographics', 'reports', 'devices'] as const
const PURPOSES = ['treatment', 'care-coordination', 'caregiving', 'research', 'payment', 'operations'] as const

const GrantBody = Type.Object(
  {
    granteeKind: Type.Enum(['user', 'organisation']),
    granteeId: Uuid('A clinician\'s or caregiver\'s user id, or an organisation id'),
    categories: Type.Array(Type.Enum(CATEGORIES), { minItems: 1, maxItems: CATEGORIES.length, uniqueItems: true }),
    access: Type.Enum(['read', 'read-write']),
    purpose: Type.Enum(PURPOSES),
    expiresAt: Time(`In the future, at most ${CONSENT_MAX_DAYS} days ahead`),
  },
  {
    additionalProperties: false,
    examples: [
      { granteeKind: 'user', granteeId: '0b9f5c8e-3d2a-4f6b-9c1e-7a8d6e5f4c3b', categories: ['device-data', 'reports'], access: 'read', purpose: 'treatment', expiresAt: '2030-01-31T00:00:00Z' },
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

export function consentRoutes(ctx: ModuleContext, deps: { repo: CareRepository }): FastifyPluginAsync {
  const { repo } = deps
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

  return async function consents(app) {
    const config = { policy: 'consent.manage' }
    const tags = ['Consent']

    app.post(
      '/me/consents',
      {
        config,
        schema: {
          tags,
          summary: 'Grant a clinician, caregiver or organisation access to categories of my data, for a purpose, until a date',
          body: GrantBody,
          response: { 201: ConsentView, 404: problem('The caller has no patient record'), 422: problem('The grantee is not an active clinician or caregiver, nor an organisation') },
        },
      },
      async (request, reply) => {
        const { principal, patientId } = await ownRecord(request)
        const body = request.body as Static<typeof GrantBody>
        const now = ctx.clock()
        const expiresAt = new Date(body.expiresAt)
        if (!(expiresAt.getTime() > now.getTime()) || expiresAt.getTime() > now.getTime() + CONSENT_MAX_DAYS * 86_400_000) {
          throw new AppError('VALIDATION_FAILED', 'The expiry must be in the future and at most two years ahead', {
            errors: [{ pointer: '/body/expiresAt', detail: `in the future, at most ${CONSENT_MAX_DAYS} days ahead` }],
          })
        }
        if (!(await repo.isConsentGrantee(body.granteeKind, body.granteeId))) throw new AppError('UNPROCESSABLE', 'The grantee is not an active clinician or caregiver, nor an organisation')
        const consent = await ctx.db.transaction(async (tx) => {
          const id = randomUUID()
          const created = await repo.insertConsent(tx, { id, patientId, ...body, expiresAt, grantedBy: principal.id, now })
          await request.auditInTransaction(tx, { status: 201, action: 'consent.grant', resourceType: 'consent', resourceId: id, patientId, consentId: id })
          await recordEvent(tx, { type: 'consent.granted', patientId, resourceId: id, data: { granteeKind: body.granteeKind, granteeId: body.granteeId } }, now)
          return created
        })
        return reply.code(201).send(present(consent))
      },
    )

    app.get(
      '/me/consents',
      { config, schema: { tags, summary: 'My consents, newest first, revoked and expired ones included', response: { 200: ConsentList, 404: problem('The caller has no patient record') } } },
      async (request) => {
        const { patientId } = await ownRecord(request)
        return { consents: (await repo.consentsOf(patientId)).map(present) }
      },
    )

    app.delete(
      '/me/consents/:consentId',
      {
        config,
        schema: {
          tags,
          summary: 'Revoke one of my consents: the grantee\'s next request is refused',
          params: ConsentParam,
          response: { 204: Type.Null({ description: 'Revoked (or it already was)' }), 404: problem('No such consent of mine') },
        },
      },
      async (request, reply) => {
        const { principal, patientId } = await ownRecord(request)
        const { consentId } = request.params as Static<typeof ConsentParam>
        const revoked = await ctx.db.transaction(async (tx) => {
          const now = ctx.clock()
          const done = await repo.revokeConsent(tx, patientId, consentId, principal.id, now)
          if (done) await request.auditInTransaction(tx, { status: 204, action: 'consent.revoke', resourceType: 'consent', resourceId: consentId, patientId, consentId })
          if (done) await recordEvent(tx, { type: 'consent.revoked', patientId, resourceId: consentId }, now)
          return done
        })
        if (!revoked && !(await repo.consentOf(patientId, consentId))) throw new AppError('NOT_FOUND', 'No such consent')
        return reply.code(204).send()
      },
    )
  }
}
