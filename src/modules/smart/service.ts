// EHR launch (SMART App Launch 2.0 §2.0.3): a signed-in clinician opens a SMART app for a patient
// they may read; the launch context is stored under an opaque, single-use id that lives 5 minutes
// and is good for that app only (ADR-0018). The authorization server reads it back when the app
// sends it as `launch`.

import { AppError } from '../../platform/http/errors.ts'
import { createLaunch } from '../../security/oauth-server/index.ts'
import type { ModuleContext } from '../context.ts'
import type { SmartRepository } from './repository.ts'

export type SmartLaunchService = ReturnType<typeof createSmartLaunchService>

export function createSmartLaunchService(ctx: ModuleContext, repo: SmartRepository) {
  return {
    async launch(input: {
      clientId: string
      userId: string
      patientId: string
    }): Promise<{ launch: string; iss: string; expiresAt: Date }> {
      const scope = await repo.clientScope(input.clientId)
      if (scope === undefined || !scope.split(' ').includes('launch')) {
        throw new AppError(
          'UNPROCESSABLE',
          'The client is not a registered SMART app with the launch scope',
          { errors: [{ pointer: '/body/client_id', detail: 'not a SMART app registered for EHR launch' }] },
        )
      }
      const created = await createLaunch(ctx.db, { ...input, now: ctx.clock() })
      return { launch: created.launch, iss: `${ctx.config.publicUrl}/fhir/R4`, expiresAt: created.expiresAt }
    },
  }
}
