// Prometheus metrics on a registry of the app's own (not the global one), so several apps in
// one process — tests — do not collide.

import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PoolStats } from '../db/index.ts'

export interface Metrics {
  readonly registry: Registry
}

export function registerMetrics(
  app: FastifyInstance,
  options: { poolStats: () => PoolStats; defaultMetrics: boolean },
): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'vigil_' })

  const requests = new Counter({
    name: 'vigil_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'vigil_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const pool = new Gauge({
    name: 'vigil_db_pool_connections',
    help: 'Database pool connections by state (total, idle, waiting requests, max).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const s = options.poolStats()
      this.set({ state: 'total' }, s.total)
      this.set({ state: 'idle' }, s.idle)
      this.set({ state: 'waiting' }, s.waiting)
      this.set({ state: 'max' }, s.max)
    },
  })
  void pool

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: ids in paths would explode the label set.
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
  })

  return { registry }
}
