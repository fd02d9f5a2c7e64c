import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the care module (organisations, users, care teams, consent, break-glass).
export function careRoutesV2(_ctx: ModuleContext): FastifyPluginAsync {
  return async function careRoutes() {}
}
