import type { FastifyPluginAsync } from 'fastify'
import type { ModuleContext } from '../context.ts'

// STUB — replaced by the auditor API (search, verification status, security events).
export function auditRoutesV2(_ctx: ModuleContext): FastifyPluginAsync {
  return async function auditRoutes() {}
}

// STUB — replaced by GET /fhir/R4/AuditEvent (registered inside the FHIR plugin, which supplies
// the FHIR content type and OperationOutcome errors).
export function auditEventFhirRoutes(_ctx: ModuleContext): FastifyPluginAsync {
  return async function auditEventRoutes() {}
}
