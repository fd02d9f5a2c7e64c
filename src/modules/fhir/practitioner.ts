// Practitioner: a clinician's user account as an R4 Practitioner (read only), so a SMART app can
// resolve the `fhirUser` of a clinician (SMART App Launch §2.0.10). Visible to the clinician
// themself, to the patients whose care team they are in, and to staff of their organisations;
// anyone else gets 404, whether or not the id exists.

import { isUuid } from '../../fhir/search.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import { AnyResource, IdParams } from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'

export function presentPractitioner(row: {
  id: string
  display_name: string | null
  updated_at: Date | string
}): Record<string, unknown> {
  return {
    resourceType: 'Practitioner',
    id: row.id,
    meta: { lastUpdated: new Date(row.updated_at).toISOString() },
    active: true,
    ...(row.display_name ? { name: [{ text: row.display_name }] } : {}),
  }
}

export function practitionerRoutes(ctx: ModuleContext) {
  return async function practitioners(app: TypedApp) {
    app.get(
      '/Practitioner/:id',
      {
        config: { policy: 'practitioners.read' },
        schema: {
          tags: ['FHIR'],
          operationId: 'readPractitioner',
          summary: 'Read a Practitioner (a clinician): the fhirUser of a clinician',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const { id } = request.params
        const principal = request.principal
        if (!principal || !isUuid(id)) throw new AppError('NOT_FOUND')
        const practitioner = id.toLowerCase()
        const { rows } = await ctx.db.query<{
          id: string
          display_name: string | null
          updated_at: Date | string
        }>(
          `SELECT u.id, u.display_name, u.updated_at FROM users u
            WHERE u.id = $1 AND u.status = 'active'
              AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'clinician')
              AND (u.id = $2
                OR EXISTS (SELECT 1 FROM care_team_members c JOIN patients p ON p.id = c.patient_id
                            WHERE c.user_id = u.id AND (p.user_id = $2 OR p.id = $3))
                OR EXISTS (SELECT 1 FROM user_roles mine JOIN user_roles theirs ON theirs.organisation_id = mine.organisation_id
                            WHERE mine.user_id = $2 AND theirs.user_id = u.id AND mine.role IN ('clinician', 'org-admin') AND theirs.role = 'clinician'))`,
          [practitioner, principal.kind === 'user' ? principal.id : null, principal.launchPatientId ?? null],
        )
        const row = rows[0]
        if (!row) throw new AppError('NOT_FOUND')
        return presentPractitioner(row)
      },
    )
  }
}
