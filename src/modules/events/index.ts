// The events module's public face (ADR-0020): recordEvent for the modules whose writes are
// events, and createEvents — the outbox relay, webhook subscriptions (/api/v2/subscriptions),
// FHIR Subscriptions and the NATS JetStream publisher — built from the module context.

import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import { VERSION } from '../../version.ts'
import type { ModuleContext } from '../context.ts'
import { fhirResourceLoader } from '../fhir/index.ts'
import { fhirBaseUrl } from '../../fhir-format/base-url.ts'
import { createDispatch } from './dispatch.ts'
import { createFhirSubscriptionService } from './fhir-subscription.service.ts'
import { fhirSubscriptionRoutes } from './fhir-subscriptions.routes.ts'
import { notificationBundle } from './fhir-notification.ts'
import { BACKPORT, FHIR_TOPICS } from './fhir-topics.ts'
import * as repo from './repository.ts'
import { createLeaderLock } from './leader-lock.ts'
import { createEventMetrics } from './metrics.ts'
import { createNatsPublisher, type NatsPublisher } from './nats-publisher.ts'
import { CLAIM_MARGIN_MS, createRelay, type Relay } from './relay.ts'
import { createSubscriberLoader } from './subscriber.ts'
import { createSubscriptionService } from './subscription.service.ts'
import { subscriptionRoutesV2 } from './subscriptions.routes.ts'
import { createWebhookSender, type SendWebhook } from './webhook-sender.ts'

export { recordEvent, type EventInput } from './record-event.ts'
export { EVENT_TYPES, EVENT_TYPE_NAMES, type EventType } from './event-types.ts'
export { isPublicAddress, destinationUrlProblem } from './destination-address.ts'
export { createWebhookSender } from './webhook-sender.ts'
export { retryDelayMs, nextAttemptAt } from './backoff.ts'
export * as eventsRepository from './repository.ts'
export { createEventOperations } from './operations.ts'

/** What the CapabilityStatement declares for FHIR Subscriptions (Backport IG): the resource and the topics. */
export function subscriptionCapability(): {
  resource: Record<string, unknown>
  extension: Record<string, unknown>[]
} {
  return {
    resource: {
      type: 'Subscription',
      supportedProfile: [BACKPORT.subscriptionProfile],
      interaction: [{ code: 'create' }, { code: 'read' }, { code: 'delete' }],
      operation: [
        {
          name: 'status',
          definition:
            'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
        },
        {
          name: 'events',
          definition:
            'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events',
        },
      ],
    },
    extension: FHIR_TOPICS.map((t) => ({ url: BACKPORT.topicCanonical, valueCanonical: t.canonical })),
  }
}

export interface Events {
  readonly relay: Relay
  readonly routesV2: FastifyPluginAsync
  /** /fhir/R4/Subscription, registered inside the FHIR plugin. */
  readonly fhirRoutes: (app: FastifyInstance) => Promise<void>
  /** NATS connection state for /health/ready when NATS_URL is set (degraded, never down). */
  readonly natsConnected: (() => boolean) | undefined
  start(): Promise<void>
  stop(): Promise<void>
}

export interface EventsOptions {
  readonly registry?: Registry | undefined
  /** Replaces the outgoing HTTP client (the bench's in-process receiver still goes through a real socket). */
  readonly send?: SendWebhook
}

export function createEvents(ctx: ModuleContext, options: EventsOptions = {}): Events {
  const cfg = ctx.config.events
  const destinations = { allowPrivate: cfg.allowPrivateDestinations }
  const send =
    options.send ??
    createWebhookSender({
      ...destinations,
      timeoutMs: cfg.webhookTimeoutMs,
      ca: cfg.webhookCaFile ? readFileSync(cfg.webhookCaFile) : undefined,
      userAgent: `Vigil/${VERSION} (webhooks)`,
    })
  const nats: NatsPublisher | undefined = cfg.natsUrl
    ? createNatsPublisher({ url: cfg.natsUrl, stream: cfg.natsStream, logger: ctx.logger })
    : undefined
  const loadSubscriber = createSubscriberLoader(ctx.db)
  const loadResources = fhirResourceLoader(ctx)
  const base = fhirBaseUrl(ctx.config.publicUrl)
  const dispatch = createDispatch({
    fhirNotification: async (subscription, delivery, event, resources) => {
      await repo.markNotified(ctx.db, subscription.id, ctx.clock())
      const body = notificationBundle(base, subscription, 'event-notification', [
        { number: delivery.eventNumber ?? 0, event, resources },
      ])
      return { body: JSON.stringify(body), headers: { 'content-type': 'application/fhir+json' } }
    },
    db: ctx.db,
    keyring: ctx.keyring,
    pdp: ctx.pdp,
    audit: ctx.audit,
    loadSubscriber,
    loadResources,
    send,
    publish: nats ? (e) => nats.publish(e) : undefined,
    clock: ctx.clock,
  })
  const lock = createLeaderLock({
    db: ctx.db,
    databaseUrl: ctx.config.databaseUrl,
    onChange: (held) =>
      ctx.logger.info(
        { leader: held },
        held
          ? 'outbox relay: this instance is the active relay'
          : 'outbox relay: this instance is no longer the active relay',
      ),
  })
  const relay = createRelay(
    {
      db: ctx.db,
      logger: ctx.logger,
      lock,
      dispatch,
      metrics: createEventMetrics(options.registry, ctx.db),
      clock: ctx.clock,
      // Backport IG heartbeat: a notification without events when a whole period passed in silence.
      heartbeats: async () => {
        for (const s of await repo.heartbeatsDue(ctx.db, ctx.clock())) {
          await repo.markNotified(ctx.db, s.id, ctx.clock())
          const result = await send(
            s.url,
            { 'content-type': 'application/fhir+json' },
            JSON.stringify(notificationBundle(base, s, 'heartbeat', [])),
          )
          if (result.status === undefined || result.status >= 300)
            ctx.logger.warn(
              { subscriptionId: s.id, status: result.status },
              'FHIR subscription heartbeat not accepted',
            )
        }
      },
    },
    {
      intervalMs: cfg.relayIntervalMs,
      backoff: {
        baseMs: cfg.retryBaseMs,
        maxDelayMs: cfg.retryMaxDelayMs,
        retryForMs: cfg.retryForSeconds * 1000,
      },
      retentionMs: cfg.retentionHours * 3_600_000,
      claimMs: cfg.webhookTimeoutMs + CLAIM_MARGIN_MS,
      stream: nats !== undefined,
    },
  )
  const fhirSubscriptions = createFhirSubscriptionService({
    db: ctx.db,
    pdp: ctx.pdp,
    loadSubscriber,
    loadResources,
    send,
    destinations,
    base,
    clock: ctx.clock,
  })
  const subscriptions = createSubscriptionService({
    db: ctx.db,
    keyring: ctx.keyring,
    pdp: ctx.pdp,
    loadSubscriber,
    destinations,
    clock: ctx.clock,
  })
  return {
    relay,
    routesV2: subscriptionRoutesV2({ subscriptions }),
    fhirRoutes: fhirSubscriptionRoutes({ subscriptions: fhirSubscriptions, base }),
    natsConnected: nats ? () => nats.connected() : undefined,
    async start() {
      if (nats)
        void nats
          .connect()
          .catch((err: unknown) =>
            ctx.logger.warn(
              { err: { message: (err as Error).message } },
              'NATS JetStream is not reachable yet; events wait in the outbox',
            ),
          )
      if (cfg.relay) relay.start()
    },
    async stop() {
      await relay.stop()
      await nats?.close()
    },
  }
}
