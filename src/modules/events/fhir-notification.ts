// Notification bundles of the Subscriptions R5 Backport IG for R4 (ADR-0021): a `history` Bundle
// whose first entry is the SubscriptionStatus (a Parameters resource, profile
// backport-subscription-status-r4) — type handshake, heartbeat, event-notification or
// query-event, the events counted since the subscription started and, per event, its number,
// time and focus — followed by the focus resources: the resource itself for `full-resource`, only
// its fullUrl for `id-only`, nothing for `empty`.

import { randomUUID } from 'node:crypto'
import { resourceIdsOf, type OutboxEvent } from './event-types.ts'
import { BACKPORT, topicOfEvent } from './fhir-topics.ts'
import type { Subscription } from './repository.ts'

export type NotificationType =
  'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event'

export interface NotificationEvent {
  readonly number: number
  readonly event: OutboxEvent
  /** The resources, for full-resource payloads (already permitted). */
  readonly resources?: readonly Record<string, unknown>[] | undefined
}

export function subscriptionStatus(
  base: string,
  s: Subscription,
  type: NotificationType,
  events: readonly NotificationEvent[],
): Record<string, unknown> {
  const status =
    s.status === 'active'
      ? 'active'
      : s.status === 'off'
        ? 'off'
        : s.status === 'error'
          ? 'error'
          : 'requested'
  return {
    resourceType: 'Parameters',
    id: randomUUID(),
    meta: { profile: [BACKPORT.statusProfile] },
    parameter: [
      { name: 'subscription', valueReference: { reference: `${base}/Subscription/${s.id}` } },
      { name: 'topic', valueCanonical: s.topic ?? '' },
      { name: 'status', valueCode: status },
      { name: 'type', valueCode: type },
      { name: 'events-since-subscription-start', valueString: String(s.eventsSinceStart) },
      ...events.map((e) => ({
        name: 'notification-event',
        part: [
          { name: 'event-number', valueString: String(e.number) },
          { name: 'timestamp', valueInstant: e.event.createdAt.toISOString() },
          ...focusIds(e.event).map((ref) => ({
            name: 'focus',
            valueReference: { reference: `${base}/${ref}` },
          })),
        ],
      })),
    ],
  }
}

function focusIds(event: OutboxEvent): string[] {
  const topic = topicOfEvent(event.type)
  return topic ? resourceIdsOf(event).map((id) => `${topic.resourceType}/${id}`) : []
}

export function notificationBundle(
  base: string,
  s: Subscription,
  type: NotificationType,
  events: readonly NotificationEvent[],
): Record<string, unknown> {
  const status = subscriptionStatus(base, s, type, events)
  const focus =
    s.payload === 'empty'
      ? []
      : events.flatMap((e) => {
          if (s.payload === 'full-resource' && e.resources)
            return e.resources.map((r) => ({
              fullUrl: `${base}/${String(r.resourceType)}/${String(r.id)}`,
              resource: r,
            }))
          return focusIds(e.event).map((ref) => ({ fullUrl: `${base}/${ref}` }))
        })
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [BACKPORT.notificationProfile] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${String(status.id)}`,
        resource: status,
        request: { method: 'GET', url: `${base}/Subscription/${s.id}/$status` },
        response: { status: '200' },
      },
      ...focus,
    ],
  }
}
