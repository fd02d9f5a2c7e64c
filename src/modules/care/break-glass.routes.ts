// Break-glass: a clinician opens emergency access to a patient of their own organisation, outside
// their care team, with a written reason (/api/v2/patients/{id}/break-glass). The session lasts 60 minutes — the database
// refuses a longer one — and every request it permits is marked break_glass in its audit entry (the
// decision carries it). Opening writes its own audit entry in the same transaction. Administrators
// list the sessions for review and mark them reviewed (/api/v2/break-glass). ADR-0008.

import { Type } from 'typebox'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import {
  BREAK_GLASS_MINUTES,
  BREAK_GLASS_REASON_MIN,
  type BreakGlassRecord,
  type BreakGlassService,
} from './service.ts'
import { IdParam, iso, problem, Time, Uuid } from './schemas.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const OpenBody = Type.Object(
  {
    reason: Type.String({
      minLength: BREAK_GLASS_REASON_MIN,
      maxLength: 1000,
      pattern: '\\S',
      description: 'Why emergency access is needed; read by the reviewing administrator',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      { reason: 'Patient admitted unconscious to the emergency department; the care team cannot be reached' },
    ],
  },
)
const SessionView = Type.Object({
  id: Uuid(),
  patientId: Uuid(),
  userId: Uuid('The clinician'),
  reason: Type.String(),
  startedAt: Time(),
  expiresAt: Time(),
  endedAt: Type.Union([Time(), Type.Null()]),
  reviewedAt: Type.Union([Time(), Type.Null()]),
  reviewedBy: Type.Union([Uuid(), Type.Null()]),
})
const SessionList = Type.Object({ sessions: Type.Array(SessionView) })
const ListQuery = Type.Object(
  {
    reviewed: Type.Optional(
      Type.Boolean({ description: 'Only reviewed (true) or unreviewed (false) sessions' }),
    ),
  },
  { additionalProperties: false },
)

const present = (s: BreakGlassRecord) => ({
  id: s.id,
  patientId: s.patientId,
  userId: s.userId,
  reason: s.reason,
  startedAt: iso(s.startedAt),
  expiresAt: iso(s.expiresAt),
  endedAt: s.endedAt === null ? null : iso(s.endedAt),
  reviewedAt: s.reviewedAt === null ? null : iso(s.reviewedAt),
  reviewedBy: s.reviewedBy,
})

export function breakGlassRoutes(ctx: ModuleContext, deps: { breakGlass: BreakGlassService }): RoutePlugin {
  const { breakGlass } = deps
  return async function breakGlassPlugin(app) {
    const tags = ['Break-glass']

    app.post(
      '/patients/:id/break-glass',
      {
        config: { policy: 'break-glass.open' },
        schema: {
          tags,
          summary: `Open emergency access to a patient for ${BREAK_GLASS_MINUTES} minutes, with a written reason (clinicians); reviewed by administrators`,
          params: IdParam,
          body: OpenBody,
          response: {
            201: SessionView,
            403: problem(
              'FORBIDDEN: not a clinician; SEGREGATION_OF_DUTIES: an account that holds an administrative role (ADR-0012)',
            ),
            404: problem(
              'No such patient, or not one of an organisation where the caller is a clinician (the same answer)',
            ),
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal as Principal
        const patientId = request.params.id
        const { reason } = request.body
        // Only a patient of an organisation where the caller is a clinician; any other answers
        // exactly as one that does not exist (concealed 404, ADR-0012). The decision carries the
        // patient into the request's audit entry.
        await request.authorize('break-glass.open', { type: 'break-glass', patientId })
        const session = await breakGlass.open(principal.id, patientId, reason, (tx, entry) =>
          request.auditInTransaction(tx, entry),
        )
        return reply.code(201).send(present(session))
      },
    )

    app.get(
      '/break-glass',
      {
        config: { policy: 'break-glass.review' },
        schema: {
          tags,
          summary: 'Break-glass sessions for review, newest first (administrators)',
          querystring: ListQuery,
          response: { 200: SessionList },
        },
      },
      async (request) => ({
        sessions: (await breakGlass.list({ reviewed: request.query.reviewed })).map(present),
      }),
    )

    app.post(
      '/break-glass/:id/review',
      {
        config: { policy: 'break-glass.review' },
        schema: {
          tags,
          summary: 'Mark a break-glass session reviewed (the first review stands)',
          params: IdParam,
          response: { 200: SessionView, 404: problem('No such session') },
        },
      },
      async (request) =>
        present(await breakGlass.review(request.params.id, (request.principal as Principal).id)),
    )
  }
}
