// The care module (issue 4; ADR-0008): organisations and their users, patient records, care teams,
// patients' consents and break-glass — the facts the policy decision point decides on, and the
// APIs that change them. Mounted under /api/v2.

import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'
import { breakGlassRoutes } from './break-glass.routes.ts'
import { careTeamRoutes } from './care-team.routes.ts'
import { consentRoutes } from './consents.routes.ts'
import { organisationRoutes } from './organisations.routes.ts'
import { patientRoutes } from './patients.routes.ts'
import { createCareRepository } from './repository.ts'
import {
  createBreakGlassService,
  createCareTeamService,
  createConsentService,
  createOrganisationDirectory,
  createPatientRecordService,
} from './service.ts'
import { userRoutes } from './users.routes.ts'

export { inviteUser, PASSWORD_SET_PATH, type Invitation } from './invite-user.ts'
export { createCareRepository as createGranteeFactSource } from './repository.ts'
export { BREAK_GLASS_MINUTES, CONSENT_MAX_DAYS } from './service.ts'

export function careRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  const repo = createCareRepository(ctx.db)
  const users = ctx.users
  const directory = createOrganisationDirectory({ repo, users })
  const records = createPatientRecordService({ db: ctx.db, repo, patients: ctx.patients })
  const team = createCareTeamService({ repo, patients: ctx.patients, clock: ctx.clock })
  const consents = createConsentService({ db: ctx.db, repo, clock: ctx.clock })
  const breakGlass = createBreakGlassService({ db: ctx.db, repo, clock: ctx.clock })
  return async function careRoutes(app) {
    await app.register(organisationRoutes(ctx, { users, directory }))
    await app.register(userRoutes(ctx, { users, directory }))
    await app.register(patientRoutes(ctx, { directory, records }))
    await app.register(careTeamRoutes(ctx, { team }))
    await app.register(consentRoutes(ctx, { consents }))
    await app.register(breakGlassRoutes(ctx, { breakGlass }))
  }
}
