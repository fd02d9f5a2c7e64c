// The care module (issue 4; ADR-0008): organisations and their users, patient records, care teams,
// patients' consents and break-glass — the facts the policy decision point decides on, and the
// APIs that change them. Mounted under /api/v2.

import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'
import { createPasswordHasher, createUserRepository, createUserService } from '../users/index.ts'
import { breakGlassRoutes } from './break-glass.routes.ts'
import { careTeamRoutes } from './care-team.routes.ts'
import { consentRoutes } from './consents.routes.ts'
import { organisationRoutes } from './organisations.routes.ts'
import { patientRoutes } from './patients.routes.ts'
import { createCareRepository } from './repository.ts'
import { userRoutes } from './users.routes.ts'

export { inviteUser, PASSWORD_SET_PATH, type Invitation } from './invite-user.ts'
export { createCareRepository as createGranteeFactSource } from './repository.ts'
export { BREAK_GLASS_MINUTES } from './break-glass.routes.ts'
export { CONSENT_MAX_DAYS } from './consents.routes.ts'

export function careRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  const repo = createCareRepository(ctx.db)
  const userRepo = createUserRepository(ctx.db)
  const users = createUserService({ db: ctx.db, hasher: createPasswordHasher(), clock: ctx.clock, repository: userRepo })
  return async function careRoutes(app) {
    await app.register(organisationRoutes(ctx, { users, repo }))
    await app.register(userRoutes(ctx, { users, userRepo, repo }))
    await app.register(patientRoutes(ctx, { repo }))
    await app.register(careTeamRoutes(ctx, { repo }))
    await app.register(consentRoutes(ctx, { repo }))
    await app.register(breakGlassRoutes(ctx, { repo }))
  }
}
