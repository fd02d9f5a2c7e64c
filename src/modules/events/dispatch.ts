// One delivery attempt (ADR-0020). For a subscription: rebuild the subscriber, ask the policy
// decision point — now, at delivery time, not when the event was written — whether it may learn
// of this event about this patient; withhold it when not (a consent revoked after the reading
// arrived stops its delivery); otherwise build the payload (identifiers, and the FHIR resources
// when asked for and permitted), sign it per Standard Webhooks and POST it. Every decision, permit
// or deny, is written to the audit trail: a delivery is a disclosure.

import { Webhook } from 'standardwebhooks'
import type { AuditTrail } from '../../audit/index.ts'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import type { PolicyDecisionPoint } from '../../security/policy/index.ts'
import { EVENT_TYPES, isEventType, resourceIdsOf, type OutboxEvent } from './event-types.ts'
import * as repo from './repository.ts'
import type { LoadSubscriber } from './subscriber.ts'
import { signingSecrets } from './webhook-secret.ts'
import type { SendWebhook } from './webhook-sender.ts'

export type DispatchOutcome =
  | { readonly kind: 'delivered'; readonly httpStatus?: number }
  | { readonly kind: 'withheld'; readonly reason: string }
  | { readonly kind: 'retry'; readonly httpStatus?: number | undefined; readonly error: string }
  | { readonly kind: 'dead'; readonly error: string }
  /** The receiver answered 410 Gone: the subscription is switched off. */
  | { readonly kind: 'gone'; readonly subscriptionId: string }

export type Dispatch = (delivery: repo.Delivery, event: OutboxEvent | undefined) => Promise<DispatchOutcome>

/** Publishes an event to the stream (nats-publisher.ts). */
export type PublishToStream = (event: OutboxEvent) => Promise<void>

export interface NotificationBuilder {
  /** A FHIR rest-hook notification for this subscription (fhir-notification.ts). */
  (
    subscription: repo.Subscription,
    delivery: repo.Delivery,
    event: OutboxEvent,
    resources: Record<string, unknown>[] | undefined,
  ): Promise<{ body: string; headers: Record<string, string> }>
}

export interface DispatchDeps {
  readonly db: Database
  readonly keyring: Pick<Keyring, 'decryptString'>
  readonly pdp: PolicyDecisionPoint
  readonly audit: AuditTrail
  readonly loadSubscriber: LoadSubscriber
  readonly loadResources: (
    resourceType: string,
    ids: readonly string[],
    patientId: string,
  ) => Promise<Record<string, unknown>[]>
  readonly send: SendWebhook
  readonly publish?: PublishToStream | undefined
  readonly fhirNotification?: NotificationBuilder | undefined
  readonly clock: () => Date
}

/** Identifiers of the event's payload that a permitted subscriber receives (never values). */
const ID_FIELDS = [
  'patientId',
  'deviceId',
  'resourceId',
  'readingIds',
  'count',
  'source',
  'granteeKind',
  'granteeId',
] as const

export function eventData(event: OutboxEvent): Record<string, unknown> {
  const data: Record<string, unknown> = { eventId: event.eventId }
  for (const k of ID_FIELDS) if (event.payload[k] !== undefined) data[k] = event.payload[k]
  if (isEventType(event.type)) data.resourceType = EVENT_TYPES[event.type].resourceType
  return data
}

export function createDispatch(deps: DispatchDeps): Dispatch {
  return async (delivery, event) => {
    if (!event) return { kind: 'dead', error: 'the event is no longer in the outbox (pruned)' }
    if (delivery.destination === 'nats') {
      if (!deps.publish) return { kind: 'retry', error: 'NATS is not configured on the active relay' }
      try {
        await deps.publish(event)
        return { kind: 'delivered' }
      } catch (err) {
        return { kind: 'retry', error: `nats: ${(err as Error).message}`.slice(0, 300) }
      }
    }
    const subscription = delivery.subscriptionId
      ? await repo.findSubscription(deps.db, delivery.subscriptionId)
      : undefined
    if (!subscription) return { kind: 'withheld', reason: 'the subscription was deleted' }
    if (subscription.status !== 'active')
      return { kind: 'dead', error: `the subscription is ${subscription.status}` }
    if (!isEventType(event.type)) return { kind: 'withheld', reason: `unknown event type ${event.type}` }
    const meta = EVENT_TYPES[event.type]
    const now = deps.clock()

    const principal = await deps.loadSubscriber(subscription)
    const patientId = event.patientId ?? undefined
    const decision = principal
      ? await deps.pdp.decide(
          principal,
          meta.action,
          { type: meta.resourceType, id: event.eventId, patientId },
          { requestId: `delivery-${delivery.id}`, ip: '', now },
        )
      : { effect: 'deny' as const, rule: 'subscriber-gone' }
    await deps.audit.record({
      actorKind: 'system',
      actorId: `subscription:${subscription.id}`,
      clientId: subscription.ownerClientId,
      action: meta.action,
      resourceType: meta.resourceType,
      resourceId: event.eventId,
      patientId: patientId ?? null,
      outcome: decision.effect === 'permit' ? 'success' : 'denied',
      decisionRule: decision.rule,
      consentId: 'consentId' in decision ? (decision.consentId ?? null) : null,
      breakGlass: 'breakGlass' in decision ? decision.breakGlass === true : false,
      requestId: `delivery-${delivery.id}`,
    })
    if (decision.effect !== 'permit')
      return { kind: 'withheld', reason: `not permitted at delivery time (${decision.rule})` }

    const resources =
      subscription.payload === 'full-resource' && patientId
        ? await deps.loadResources(meta.resourceType, resourceIdsOf(event), patientId)
        : undefined

    let body: string
    let extraHeaders: Record<string, string> = {}
    if (subscription.kind === 'fhir') {
      if (!deps.fhirNotification) return { kind: 'retry', error: 'FHIR notifications are not available' }
      const built = await deps.fhirNotification(subscription, delivery, event, resources)
      body = built.body
      extraHeaders = built.headers
    } else {
      body = JSON.stringify({
        type: event.type,
        timestamp: event.createdAt.toISOString(),
        data: { ...eventData(event), ...(resources ? { resources } : {}) },
      })
    }
    const headers: Record<string, string> = { ...extraHeaders }
    const secrets = signingSecrets(deps.keyring, subscription, now)
    if (secrets.length > 0) {
      // Standard Webhooks: webhook-id is the event id (the same on every retry: receivers dedup on
      // it); the timestamp is this attempt's (receivers refuse stale ones: replay protection).
      const sentAt = now
      headers['webhook-id'] = event.eventId
      headers['webhook-timestamp'] = String(Math.floor(sentAt.getTime() / 1000))
      headers['webhook-signature'] = secrets
        .map((s) => new Webhook(s).sign(event.eventId, sentAt, body))
        .join(' ')
    }
    const result = await deps.send(subscription.url, headers, body)
    if (result.status !== undefined && result.status >= 200 && result.status < 300)
      return { kind: 'delivered', httpStatus: result.status }
    if (result.status === 410) return { kind: 'gone', subscriptionId: subscription.id }
    return { kind: 'retry', httpStatus: result.status, error: result.error ?? `HTTP ${result.status}` }
  }
}
