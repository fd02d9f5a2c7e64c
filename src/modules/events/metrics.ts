// Event delivery metrics (ADR-0020) on the app's registry: what is pending, delivered, retried,
// withheld and dead, and how long an event takes from commit to its receiver's 2xx.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Queryable } from '../../platform/db/index.ts'
import * as repo from './repository.ts'

export interface EventMetrics {
  delivered(destination: 'webhook' | 'fhir' | 'nats', latencySeconds: number): void
  retried(destination: 'webhook' | 'fhir' | 'nats'): void
  dead(destination: 'webhook' | 'fhir' | 'nats'): void
  withheld(): void
}

export function createEventMetrics(registry: Registry | undefined, db: Queryable): EventMetrics {
  if (!registry) return { delivered: () => {}, retried: () => {}, dead: () => {}, withheld: () => {} }
  const labelNames = ['destination'] as const
  const delivered = new Counter({
    name: 'vigil_events_delivered_total',
    help: 'Event deliveries answered 2xx (or published to the stream), by destination kind.',
    labelNames,
    registers: [registry],
  })
  const retried = new Counter({
    name: 'vigil_events_retried_total',
    help: 'Event delivery attempts that failed and were scheduled again.',
    labelNames,
    registers: [registry],
  })
  const dead = new Counter({
    name: 'vigil_events_dead_total',
    help: 'Event deliveries dead-lettered (retried for EVENTS_RETRY_FOR_SECONDS, or their subscription switched off).',
    labelNames,
    registers: [registry],
  })
  const withheld = new Counter({
    name: 'vigil_events_withheld_total',
    help: 'Event deliveries the policy decision point refused at delivery time.',
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'vigil_events_delivery_latency_seconds',
    help: "Seconds from an event's commit to its delivery, by destination kind.",
    labelNames,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
    registers: [registry],
  })
  const queue = new Gauge({
    name: 'vigil_events_queue',
    help: 'Events by delivery state now: unpublished (in the outbox, not yet fanned out), pending, retrying (pending after a failure), dead.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const c = await repo.counts(db).catch(() => undefined)
      if (!c) return
      this.set({ state: 'unpublished' }, c.unpublished)
      this.set({ state: 'pending' }, c.pending)
      this.set({ state: 'retrying' }, c.retrying)
      this.set({ state: 'dead' }, c.dead)
    },
  })
  void queue
  return {
    delivered: (d, s) => {
      delivered.inc({ destination: d })
      latency.observe({ destination: d }, Math.max(0, s))
    },
    retried: (d) => retried.inc({ destination: d }),
    dead: (d) => dead.inc({ destination: d }),
    withheld: () => withheld.inc(),
  }
}
