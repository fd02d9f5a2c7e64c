import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the auditor API (search, verification status, security events).
export function auditRoutesV2(_ctx: ModuleContext): FastifyPluginAsync {
  return async function auditRoutes() {}
}
