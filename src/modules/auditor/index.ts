// The auditor module's public face: the auditor API and security events under /api/v2, the FHIR
// AuditEvent view (registered inside the FHIR plugin at /fhir/R4), and the anomaly monitor.

import type { FastifyPluginAsync } from 'fastify'
import { DEFAULT_THRESHOLDS, type AnomalyThresholds } from '../../audit/anomalies.ts'
import type { ModuleContext } from '../context.ts'
import { createAnomalyMonitor, type AnomalyMonitor } from './anomaly-monitor.ts'
import { auditSearchRoutes } from './audit.routes.ts'
import { auditEventRoutes } from './audit-event.fhir-routes.ts'
import { securityEventRoutes } from './security-events.routes.ts'
import { createSecurityEventService } from './security-events.service.ts'

export { createAnomalyMonitor, type AnomalyMonitor, type RunReport } from './anomaly-monitor.ts'

/** The thresholds from configuration (the patients rule), the rest at their defaults. */
export function thresholdsFromConfig(ctx: ModuleContext): AnomalyThresholds {
  return {
    ...DEFAULT_THRESHOLDS,
    distinctPatients: {
      count: ctx.config.anomalies.patientsThreshold,
      windowSeconds: ctx.config.anomalies.patientsWindowSeconds,
    },
  }
}

export function anomalyMonitorFor(ctx: ModuleContext): AnomalyMonitor {
  return createAnomalyMonitor({
    db: ctx.db,
    logger: ctx.logger,
    clock: ctx.clock,
    thresholds: thresholdsFromConfig(ctx),
    webhookUrl: ctx.config.anomalies.webhookUrl,
    source: ctx.config.publicUrl,
    claim: ctx.jobs?.claim,
  })
}

/** /api/v2/audit/… and /api/v2/security-events…; runs the detector every ANOMALY_INTERVAL_SECONDS while the server is up. */
export function auditRoutesV2(ctx: ModuleContext): FastifyPluginAsync {
  return async function auditRoutes(app) {
    const monitor = anomalyMonitorFor(ctx)
    await app.register(auditSearchRoutes(ctx))
    const events = createSecurityEventService({ db: ctx.db, clock: ctx.clock, keyring: ctx.keyring })
    await app.register(securityEventRoutes({ events, monitor }))
    app.addHook('onReady', async () => monitor.start(ctx.config.anomalies.intervalSeconds))
    app.addHook('onClose', async () => monitor.stop())
  }
}

/** GET /AuditEvent and /AuditEvent/{id}; the FHIR plugin mounts it at /fhir/R4. */
export function auditEventFhirRoutes(ctx: ModuleContext): FastifyPluginAsync {
  return auditEventRoutes(ctx)
}
