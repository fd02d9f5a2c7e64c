// The outbox relay (ADR-0020), in the server process. Every pass, on the instance holding the
// leader lock only:
//   1. fan-out — committed outbox rows not yet published, in id order, become one delivery row
//      per matching destination (active subscriptions whose event types and patient filter match,
//      and the NATS stream when configured), and are marked published, in one transaction;
//   2. delivery — the due deliveries that head their (destination, patient) queue are claimed and
//      sent, several queues at once, each queue strictly in order; a failure is retried with
//      exponential back-off and jitter until EVENTS_RETRY_FOR_SECONDS, then dead-lettered;
//   3. pruning — now and then, delivered rows and their outbox rows past the retention period.
// At-least-once: a crash between a receiver's 2xx and the row's update re-sends the event with
// the same webhook-id (the event id), which receivers deduplicate on.

import type { Logger } from 'pino'
import type { Database } from '../../platform/db/index.ts'
import { nextAttemptAt, retryPeriodStart, type BackoffPolicy } from './backoff.ts'
import type { Dispatch, DispatchOutcome } from './dispatch.ts'
import type { OutboxEvent } from './event-types.ts'
import type { LeaderLock } from './leader-lock.ts'
import type { EventMetrics } from './metrics.ts'
import * as repo from './repository.ts'

/**
 * How long a claimed delivery stays reserved beyond the sender's HTTP timeout. A sender that died
 * mid-send, or that lost the leader lock but still runs, is never overlapped by a second send; the
 * margin absorbs clock skew between instances. The cost: a delivery claimed by a killed instance
 * waits out this lease before another instance sends it (ADR-0020).
 */
export const CLAIM_MARGIN_MS = 30_000

export interface RelayOptions {
  readonly intervalMs: number
  readonly backoff: BackoffPolicy
  readonly retentionMs: number
  /** How long a claimed delivery is reserved for its sender (beyond the HTTP timeout). */
  readonly claimMs: number
  /** Publish every event to the NATS stream too. */
  readonly stream: boolean
  readonly batchSize?: number
  readonly concurrency?: number
}

export interface RelayDeps {
  readonly db: Database
  readonly logger: Logger
  readonly lock: LeaderLock
  readonly dispatch: Dispatch
  readonly metrics: EventMetrics
  readonly clock: () => Date
  /** Heartbeats of FHIR subscriptions that nothing was sent to for their period (ADR-0021). */
  readonly heartbeats?: (() => Promise<void>) | undefined
}

export interface Relay {
  start(): void
  stop(): Promise<void>
  /** One pass now (tests, the CLI); returns what it did. */
  runOnce(): Promise<{ leader: boolean; fannedOut: number; attempted: number }>
}

function matches(s: repo.Subscription, e: OutboxEvent): boolean {
  if (!s.eventTypes.includes(e.type)) return false
  if (s.patientId !== null && s.patientId !== e.patientId) return false
  return true
}

/** Destinations are 'nats', 'webhook:<subscription id>' or 'fhir:<subscription id>'. */
const destinationKind = (d: repo.Delivery): 'webhook' | 'fhir' | 'nats' =>
  d.destination === 'nats' ? 'nats' : d.destination.startsWith('fhir:') ? 'fhir' : 'webhook'

export function createRelay(deps: RelayDeps, options: RelayOptions): Relay {
  const { db, logger, clock } = deps
  const batch = options.batchSize ?? 500
  const concurrency = options.concurrency ?? 16
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  let stopped = true
  let lastPrune = 0

  async function fanOut(): Promise<number> {
    let total = 0
    for (;;) {
      const n = await db.transaction(async (tx) => {
        const events = await repo.claimUnpublished(tx, batch)
        if (events.length === 0) return 0
        const subscriptions = await repo.activeSubscriptions(tx)
        const now = clock()
        const deliveries: repo.NewDelivery[] = []
        for (const event of events) {
          for (const s of subscriptions) {
            if (!matches(s, event)) continue
            // FHIR subscriptions number their events (Backport IG: events-since-subscription-start).
            const eventNumber = s.kind === 'fhir' ? await repo.reserveEventNumbers(tx, s.id, 1) : undefined
            deliveries.push({ destination: `${s.kind}:${s.id}`, subscriptionId: s.id, event, eventNumber })
          }
          if (options.stream) deliveries.push({ destination: 'nats', subscriptionId: null, event })
        }
        await repo.insertDeliveries(tx, deliveries, now)
        await repo.markPublished(
          tx,
          events.map((e) => e.outboxId),
          now,
        )
        return events.length
      })
      total += n
      if (n < batch) return total
    }
  }

  async function record(
    d: repo.Delivery,
    outcome: DispatchOutcome,
    kind: 'webhook' | 'fhir' | 'nats',
  ): Promise<void> {
    const now = clock()
    switch (outcome.kind) {
      case 'delivered':
        await repo.finishDelivery(
          db,
          d.id,
          { status: 'delivered', httpStatus: outcome.httpStatus, countAttempt: true },
          now,
        )
        deps.metrics.delivered(kind, (now.getTime() - d.eventCreatedAt.getTime()) / 1000)
        return
      case 'withheld':
        await repo.finishDelivery(
          db,
          d.id,
          { status: 'withheld', error: outcome.reason, countAttempt: false },
          now,
        )
        deps.metrics.withheld()
        return
      case 'dead':
        await repo.finishDelivery(db, d.id, { status: 'dead', error: outcome.error, countAttempt: true }, now)
        deps.metrics.dead(kind)
        logger.warn(
          { deliveryId: d.id, eventId: d.eventId, destination: d.destination },
          'event delivery dead-lettered',
        )
        return
      case 'gone': {
        // The receiver asked for no more (HTTP 410): switch the subscription off, keep what is queued re-drivable.
        const reason = 'the receiver answered 410 Gone'
        await db.transaction(async (tx) => {
          await repo.setSubscriptionStatus(tx, outcome.subscriptionId, 'off', reason, now)
          await repo.finishDelivery(
            tx,
            d.id,
            { status: 'dead', httpStatus: 410, error: reason, countAttempt: true },
            now,
          )
          await repo.deadLetterSubscription(tx, outcome.subscriptionId, reason, now)
        })
        deps.metrics.dead(kind)
        logger.warn(
          { subscriptionId: outcome.subscriptionId },
          'webhook subscription switched off: the receiver answered 410 Gone',
        )
        return
      }
      case 'retry': {
        const next = nextAttemptAt(options.backoff, d.attempts + 1, retryPeriodStart(d), now)
        if (next === undefined) {
          await repo.finishDelivery(
            db,
            d.id,
            { status: 'dead', httpStatus: outcome.httpStatus, error: outcome.error, countAttempt: true },
            now,
          )
          deps.metrics.dead(kind)
          logger.warn(
            { deliveryId: d.id, eventId: d.eventId, destination: d.destination, attempts: d.attempts + 1 },
            'event delivery dead-lettered after its retry period',
          )
        } else {
          await repo.retryDelivery(db, d.id, next, outcome)
          deps.metrics.retried(kind)
        }
      }
    }
  }

  /** One round: claim the due heads of their queues and send them; returns how many were attempted and how many finished (freeing their queue). */
  async function deliverDue(): Promise<{ attempted: number; finished: number }> {
    const due = await repo.claimDue(db, clock(), options.claimMs, batch)
    if (due.length === 0) return { attempted: 0, finished: 0 }
    const events = await repo.eventsByOutboxIds(db, [...new Set(due.map((d) => d.outboxId))])
    let index = 0
    let finished = 0
    const worker = async () => {
      for (;;) {
        const d = due[index++]
        if (!d) return
        let outcome: DispatchOutcome
        try {
          outcome = await deps.dispatch(d, events.get(d.outboxId))
        } catch (err) {
          logger.error({ err, deliveryId: d.id }, 'event delivery failed unexpectedly')
          outcome = { kind: 'retry', error: 'internal error' }
        }
        await record(d, outcome, destinationKind(d))
        if (outcome.kind !== 'retry') finished++
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker))
    return { attempted: due.length, finished }
  }

  async function pass(): Promise<{
    leader: boolean
    fannedOut: number
    attempted: number
    sliceUsed: boolean
  }> {
    if (!(await deps.lock.acquire())) return { leader: false, fannedOut: 0, attempted: 0, sliceUsed: false }
    let fannedOut = 0
    let attempted = 0
    let sliceUsed = false
    // Rounds while they make progress (a finished delivery frees the next event of its queue),
    // within a time slice; new outbox rows are fanned out before every round.
    const until = Date.now() + Math.max(options.intervalMs * 4, 1_000)
    for (;;) {
      fannedOut += await fanOut()
      const round = await deliverDue()
      attempted += round.attempted
      if (round.finished === 0 || stopped) break
      if (Date.now() > until) {
        sliceUsed = true
        break
      }
    }
    await deps.heartbeats?.()
    if (Date.now() - lastPrune > 60_000) {
      lastPrune = Date.now()
      const pruned = await repo.prune(db, new Date(clock().getTime() - options.retentionMs))
      if (pruned.deliveries + pruned.events > 0)
        logger.info(pruned, 'pruned delivered events past their retention')
    }
    return { leader: true, fannedOut, attempted, sliceUsed }
  }

  /**
   * The next pass after the interval — or at once when the last one ran out of its time slice
   * still delivering (a backlog): waiting a whole interval between slices would idle the relay
   * for a fifth of a drain (the events bench, docs/performance.md).
   */
  function schedule(delayMs = options.intervalMs): void {
    if (stopped) return
    timer = setTimeout(() => {
      let busy = false
      running = pass()
        .then((r) => (busy = r.sliceUsed))
        .catch((err: unknown) => logger.error({ err }, 'outbox relay pass failed'))
        .finally(() => {
          running = undefined
          schedule(busy ? 0 : options.intervalMs)
        })
    }, delayMs)
  }

  return {
    start() {
      if (!stopped) return
      stopped = false
      schedule()
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
      await deps.lock.release()
    },
    async runOnce() {
      const previous = running
      if (previous) await previous
      const p = pass().then(({ sliceUsed: _busy, ...r }) => r)
      running = p
      try {
        return await p
      } finally {
        if (running === p) running = undefined
      }
    },
  }
}
