// Who a write is for (ADR-0010): a device writes for the patient it is bound to now — its binding
// decides, and a patientId it names must be that one (else 404, concealed); an unbound device is
// refused (409). A user (a clinician in the care team, or with a consent for writing) must name
// the patient. The object-level check (request.authorize) runs for that patient either way, so
// a patient's own token — which no rule lets write device data — is refused (403).

import type { FastifyRequest } from 'fastify'
import { AppError } from '../../platform/http/errors.ts'
import type { Principal } from '../../security/authn/index.ts'

export interface Writer {
  readonly principalKey: string
  readonly patientId: string
  readonly deviceId: string | null
}

export async function authorizeWriter(request: FastifyRequest, named: string | undefined): Promise<Writer> {
  const principal = request.principal as Principal
  let patientId: string
  if (principal.kind === 'device') {
    if (!principal.patientId)
      throw new AppError(
        'DEVICE_NOT_BOUND',
        'This device is not bound to a patient; bind it before sending readings',
      )
    if (named !== undefined && named !== principal.patientId) throw new AppError('NOT_FOUND')
    patientId = principal.patientId
  } else {
    const own = principal.patientId ?? undefined
    const chosen = named ?? own
    if (chosen === undefined)
      throw new AppError('VALIDATION_FAILED', 'patientId is required when a user writes readings', {
        errors: [{ pointer: '/body/patientId', detail: 'required' }],
      })
    patientId = chosen
  }
  await request.authorize('device-data.write', { type: 'device-data', patientId })
  return {
    principalKey: `${principal.kind}:${principal.id}`,
    patientId,
    deviceId: principal.kind === 'device' ? principal.id : null,
  }
}
