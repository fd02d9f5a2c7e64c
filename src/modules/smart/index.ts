// The SMART module (issue 13; ADR-0018): EHR launch contexts, created by a signed-in clinician.
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'
import type { ModuleContext } from '../context.ts'
import { createSmartRepository } from './repository.ts'
import { smartLaunchRoutes } from './routes.v2.ts'
import { createSmartLaunchService } from './service.ts'

/** POST /api/v2/smart/launch, over the launch service built here. */
export function smartRoutesV2(ctx: ModuleContext): RoutePlugin {
  return smartLaunchRoutes(createSmartLaunchService(ctx, createSmartRepository(ctx.db)))
}
