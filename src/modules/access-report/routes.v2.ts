// GET /api/v2/me/access-report (issue 15): the signed-in patient's accounting of disclosures —
// who read or changed their data, when, and on what grounds — from the audit trail.

import { Type } from 'typebox'
import { InvalidCursorError } from '../../audit/search.ts'
import { cursorSeal } from '../../platform/http/cursor.ts'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import { accessReport } from './service.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Query = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Inclusive lower bound (RFC 3339 with offset)' }),
    ),
    to: Type.Optional(
      Type.String({ format: 'date-time', description: 'Exclusive upper bound (RFC 3339 with offset)' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'From the previous page: next',
      }),
    ),
  },
  { additionalProperties: false },
)
const Grounds = Type.Union(
  [
    'care-team',
    'consent',
    'break-glass',
    'own-organisation-service',
    'bound-device',
    'administration',
    'self',
    'none',
  ].map((g) => Type.Literal(g)),
  {
    description:
      "Why the policy let them: their care team, your consent, emergency access (break-glass), their organisation's service, your paired device, administration; none for a refused attempt",
  },
)
const Report = Type.Object(
  {
    entries: Type.Array(
      Type.Object({
        id: Type.String({ description: 'The audit entry' }),
        occurredAt: Type.String({ description: 'UTC' }),
        actor: Type.Object({
          kind: Type.String({ description: 'user, device, client, anonymous or system' }),
          id: Type.Union([Type.String(), Type.Null()]),
          email: Type.Union([Type.String(), Type.Null()], { description: 'The person, for a user' }),
          roles: Type.Array(Type.String()),
          organisations: Type.Array(Type.String()),
        }),
        clientId: Type.Union([Type.String(), Type.Null()], { description: 'The app they used' }),
        action: Type.String({ description: 'The policy action (device-data.read) or METHOD /route' }),
        outcome: Type.String({ description: 'success, denied, failure or error' }),
        grounds: Grounds,
        consentId: Type.Union([Type.String(), Type.Null()]),
        breakGlass: Type.Boolean(),
      }),
    ),
    next: Type.Union([Type.String(), Type.Null()], {
      description: 'Cursor of the next (older) page; null on the last',
    }),
  },
  {
    examples: [
      {
        entries: [
          {
            id: '0193b0a4-7c2e-7d3a-9f10-3b2c1d0e9f8a',
            occurredAt: '2026-01-15T09:30:12.345Z',
            actor: {
              kind: 'user',
              id: '6f1d2c3b-4a59-4e8f-9d7c-1b2a3c4d5e6f',
              email: 'clinician@demo.test',
              roles: ['clinician'],
              organisations: ['Demo Clinic'],
            },
            clientId: 'vigil-console',
            action: 'device-data.read',
            outcome: 'success',
            grounds: 'care-team',
            consentId: null,
            breakGlass: false,
          },
        ],
        next: null,
      },
    ],
  },
)

export function accessReportRoutesV2(ctx: ModuleContext): RoutePlugin {
  return async function accessReportRoutes(app) {
    app.get(
      '/me/access-report',
      {
        config: { policy: 'access-report.read' },
        schema: {
          tags: ['Consent'],
          summary:
            "Who read or changed my data, when, and on what grounds (care team, consent, break-glass): the patient's accounting of disclosures from the audit trail",
          description:
            "Every audit entry naming the caller's patient record, by anyone but the caller, newest first. Reads, searches and lists name every patient they carried, so a search that showed this patient among others is listed too.",
          querystring: Query,
          response: { 200: Report, 404: problem('The caller has no patient record') },
        },
      },
      async (request) => {
        const principal = request.principal as Principal
        if (!principal.patientId) throw new AppError('NOT_FOUND', 'The caller has no patient record')
        await request.authorize('access-report.read', {
          type: 'access-report',
          patientId: principal.patientId,
        })
        const q = request.query
        try {
          return await accessReport(ctx.db, cursorSeal(ctx.keyring, 'access report'), {
            patientId: principal.patientId,
            ownUserId: principal.id,
            from: q.from ? new Date(q.from) : undefined,
            to: q.to ? new Date(q.to) : undefined,
            limit: q.limit ?? 50,
            cursor: q.cursor,
          })
        } catch (err) {
          if (err instanceof InvalidCursorError)
            throw new AppError('VALIDATION_FAILED', 'The cursor is not one this API gave', {
              errors: [{ pointer: '/querystring/cursor', detail: 'invalid cursor' }],
            })
          throw err
        }
      },
    )
  }
}
