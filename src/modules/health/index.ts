// The health module's public face: liveness and readiness probes, and the Prometheus metrics.

export { createReadinessCheck, type CheckStatus, type Readiness, type RedisPing } from './check-readiness.ts'
export { healthRoutes } from './routes.ts'
export { metricsRoutes } from './metrics.routes.ts'
