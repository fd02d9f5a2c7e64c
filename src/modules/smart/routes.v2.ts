// POST /api/v2/smart/launch: a clinician's EHR launch context for a SMART app (HTTP only).

import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse } from '../../platform/http/problem.ts'
import type { SmartLaunchService } from './service.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const LaunchBody = Type.Object(
  {
    client_id: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The SMART app (registered with the launch scope)',
    }),
    patient: Type.String({
      format: 'uuid',
      description: 'The patient record the app is launched for (one the clinician may read)',
    }),
  },
  {
    additionalProperties: false,
    examples: [{ client_id: 'demo-smart-app', patient: '0b8a6f1e-3c1d-4e0a-9a55-6f0d2f4c9b1a' }],
  },
)
const LaunchCreated = Type.Object(
  {
    launch: Type.String({ description: 'Opaque launch id: pass it to the app as `launch`, with `iss`' }),
    iss: Type.String({ description: 'The FHIR base URL the app must use as `aud`' }),
    expires_at: Type.String({
      format: 'date-time',
      description: 'The launch must be used before this (single use)',
    }),
  },
  {
    examples: [
      {
        launch: 'q0fT3pXW2cH3nE8m5o1kA7bZ9yL4vR6s',
        iss: 'https://vigil.example/fhir/R4',
        expires_at: '2026-01-01T10:05:00.000Z',
      },
    ],
  },
)

export function smartLaunchRoutes(service: SmartLaunchService): RoutePlugin {
  return async function smartRoutes(app) {
    app.post(
      '/smart/launch',
      {
        config: { policy: 'patients.read' },
        schema: {
          tags: ['SMART'],
          operationId: 'createSmartLaunch',
          summary:
            'EHR launch: a clinician opens a SMART app for a patient; returns the launch id and iss to hand the app',
          description:
            'SMART App Launch 2.0 EHR launch. The caller must be a clinician who may read the patient. The launch id is single use, lives 5 minutes and is good only for ' +
            'the named client; the app sends it as `launch` with the `launch` scope and `aud` = `iss`, and its token response names the patient.',
          body: LaunchBody,
          response: {
            201: LaunchCreated,
            404: problemResponse('No such patient, or one the caller may not read (concealed)'),
            422: problemResponse('The client is not a SMART app registered for EHR launch'),
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal
        const body = request.body
        if (!principal || principal.kind !== 'user' || !principal.roles.includes('clinician'))
          throw new AppError('FORBIDDEN', 'Only a signed-in clinician launches an app for a patient')
        const patientId = body.patient.toLowerCase()
        await request.authorize('patients.read', { type: 'Patient', id: patientId, patientId })
        const created = await service.launch({ clientId: body.client_id, userId: principal.id, patientId })
        return reply
          .code(201)
          .send({ launch: created.launch, iss: created.iss, expires_at: created.expiresAt.toISOString() })
      },
    )
  }
}
