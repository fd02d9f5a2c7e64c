// Practitioner: a clinician's user account as an R4 Practitioner (read only), so a SMART app can
// resolve the `fhirUser` of a clinician (SMART App Launch §2.0.10). Visible to the clinician
// themself, to the patients whose care team they are in, and to staff of their organisations;
// anyone else gets 404, whether or not the id exists.

import { isUuid } from '../../fhir-format/search.ts'
import { AppError } from '../../platform/http/errors.ts'
import { AnyResource, IdParams } from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'
import type { FhirService } from './service.ts'

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

export function practitionerRoutes(fhir: FhirService) {
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
        const row = await fhir.visiblePractitioner(
          practitioner,
          principal.kind === 'user' ? principal.id : null,
          principal.launchPatientId ?? null,
        )
        if (!row) throw new AppError('NOT_FOUND')
        return presentPractitioner(row)
      },
    )
  }
}
