import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the FHIR R4 API.
export function fhirRoutes(_ctx: ModuleContext): FastifyPluginAsync {
  return async function fhir() {}
}

// STUB — replaced by GET /.well-known/smart-configuration (SMART App Launch discovery, public).
export function smartConfigurationRoutes(_ctx: ModuleContext): FastifyPluginAsync {
  return async function smartConfiguration() {}
}
