// POST /api/v2/admin/patients/{id}/erase: crypto-shredding by an administrator (policy
// 'patients.manage': a platform admin, or an org-admin of the patient's organisation, through a
// token with the admin:users scope). An unknown or already erased patient is concealed (404).

import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { ModuleContext } from '../context.ts'
import { erasePatient } from './erasure.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Params = Type.Object(
  { id: Type.String({ format: 'uuid', description: 'The patient id' }) },
  { additionalProperties: false },
)
const Body = Type.Object(
  { confirm: Type.Literal(true, { description: 'Must be true: erasure cannot be undone' }) },
  { additionalProperties: false, examples: [{ confirm: true }] },
)
const Erased = Type.Object(
  {
    patientId: Type.String({ format: 'uuid' }),
    erasedAt: Type.String({
      format: 'date-time',
      description: "When the patient's data keys were destroyed (RFC 3339, UTC)",
    }),
  },
  { additionalProperties: false },
)

/** The route plugin; without ctx it takes the module context the app built (app.vigil.modules). */
export function erasureRoutesV2(ctx?: ModuleContext): RoutePlugin {
  return async function erasureRoutes(app) {
    const modules = ctx ?? app.vigil.modules
    app.post(
      '/admin/patients/:id/erase',
      {
        config: { policy: 'patients.manage' },
        schema: {
          tags: ['Administration'],
          summary:
            'Erase a patient by destroying their data keys (crypto-shredding): their PHI becomes unreadable here and in every later backup (earlier backups: ADR-0009)',
          params: Params,
          body: Body,
          response: { 200: Erased, 404: problem('No such patient, or already erased') },
        },
      },
      async (request) => {
        const { id } = request.params
        await request.authorize('patients.manage', { type: 'Patient', id, patientId: id })
        const principal = request.principal
        const result = await erasePatient(
          modules,
          id,
          {
            kind: principal?.kind ?? 'user',
            id: principal?.id ?? null,
            clientId: principal?.clientId ?? null,
            requestId: request.id,
            ip: request.ip,
          },
          (tx) =>
            request.auditInTransaction(tx, {
              status: 200,
              action: 'patient.erase',
              resourceType: 'Patient',
              resourceId: id,
              patientId: id,
            }),
        )
        if (result.status !== 'erased') throw new AppError('NOT_FOUND')
        return { patientId: id, erasedAt: result.erasedAt.toISOString() }
      },
    )
  }
}
