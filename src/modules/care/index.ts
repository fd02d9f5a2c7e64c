// The care module (issue 4; ADR-0008): organisations and their users, patient records, care teams,
// patients' consents and break-glass — the facts the policy decision point decides on, and the
// APIs that change them. Mounted under /api/v2.

import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'
import { createUserRepository } from '../users/index.ts'
import { breakGlassRoutes } from './break-glass.routes.ts'
import { careTeamRoutes } from './care-team.routes.ts'
import { consentRoutes } from './consents.routes.ts'
import { organisationRoutes } from './organisations.routes.ts'
import { patientRoutes } from './patients.routes.ts'
import { createCareRepository } from './repository.ts'
import { createBreakGlassService, createConsentService, createPatientRecordService } from './service.ts'
import { userRoutes } from './users.routes.ts'

export { inviteUser, PASSWORD_SET_PATH, type Invitation } from './invite-user.ts'
export { createCareRepository as createGranteeFactSource } from './repository.ts'
export { BREAK_GLASS_MINUTES, CONSENT_MAX_DAYS } from './service.ts'

export function careRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  const repo = createCareRepository(ctx.db)
  const userRepo = createUserRepository(ctx.db)
  const users = ctx.users
  return async function careRoutes(app) {
    await app.register(organisationRoutes(ctx, { users, repo }))
    await app.register(userRoutes(ctx, { users, userRepo, repo }))
    await app.register(
      patientRoutes(ctx, {
        repo,
        records: createPatientRecordService({ db: ctx.db, repo, patients: ctx.patients }),
      }),
    )
    await app.register(careTeamRoutes(ctx, { repo }))
    await app.register(
      consentRoutes(ctx, { consents: createConsentService({ db: ctx.db, repo, clock: ctx.clock }) }),
    )
    await app.register(
      breakGlassRoutes(ctx, {
        repo,
        breakGlass: createBreakGlassService({ db: ctx.db, repo, clock: ctx.clock }),
      }),
    )
  }
}
