// The operator's commands over event delivery (`vigil events list|redrive|replay`; ADR-0020):
// look at the queue and its dead letters, queue dead deliveries again, and replay past events (still
// in the outbox, within EVENTS_RETENTION_HOURS) to one destination. Each change is a `system`
// audit entry with counts only.

import type { AuditTrail } from '../../audit/index.ts'
import type { Database } from '../../platform/db/index.ts'
import * as repo from './repository.ts'

export interface EventOperationsDeps {
  readonly db: Database
  readonly audit: AuditTrail
  readonly clock: () => Date
}

export function createEventOperations(deps: EventOperationsDeps) {
  const { db, audit, clock } = deps
  return {
    async list(filter: { status?: repo.DeliveryStatus; subscriptionId?: string; limit: number }) {
      return { counts: await repo.counts(db), deliveries: await repo.listDeliveries(db, filter) }
    },

    async redrive(filter: { ids?: readonly number[]; subscriptionId?: string }): Promise<number> {
      return db.transaction(async (tx) => {
        const n = await repo.redrive(tx, filter, clock())
        await audit.record(
          {
            actorKind: 'system',
            action: 'events.redrive',
            resourceType: 'event-subscription',
            resourceId: filter.subscriptionId ?? null,
            outcome: 'success',
          },
          tx,
        )
        return n
      })
    },

    /** Queues past events again for one subscription ('nats' for the stream): the same event ids, so receivers deduplicate. */
    async replay(
      target: { subscriptionId?: string; nats?: boolean },
      filter: { since: Date; types?: readonly string[] },
    ): Promise<number> {
      let destination = 'nats'
      let subscription: repo.Subscription | undefined
      if (!target.nats) {
        subscription = target.subscriptionId
          ? await repo.findSubscription(db, target.subscriptionId)
          : undefined
        if (!subscription) throw new Error('no such subscription')
        destination = `${subscription.kind}:${subscription.id}`
      }
      const events = (
        await repo.findEvents(db, {
          since: filter.since,
          ...(filter.types ? { types: filter.types } : {}),
          ...(subscription?.patientId ? { patientId: subscription.patientId } : {}),
          limit: 100_000,
        })
      ).filter((e) => !subscription || subscription.eventTypes.includes(e.type))
      return db.transaction(async (tx) => {
        await repo.replay(tx, destination, subscription?.id ?? null, events, clock())
        await audit.record(
          {
            actorKind: 'system',
            action: 'events.replay',
            resourceType: 'event-subscription',
            resourceId: subscription?.id ?? 'nats',
            outcome: 'success',
          },
          tx,
        )
        return events.length
      })
    },
  }
}
