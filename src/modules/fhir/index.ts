import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the FHIR R4 API.
export function fhirRoutes(_ctx: ModuleContext): FastifyPluginAsync {
  return async function fhir() {}
}
