// FHIR R4 Subscriptions per the Subscriptions R5 Backport IG (ADR-0021): create (validated, then
// a handshake to the endpoint: active when it answers 2xx, error otherwise), read, delete, $status
// and $events — each for the subscription's owner only. The topic's read action is decided for
// the filtered patient at creation, and for every notification and every $events replay again.

import { randomUUID } from 'node:crypto'
import type { Database } from '../../platform/db/index.ts'
import { FhirError } from '../../fhir-format/outcome.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { PolicyDecisionPoint } from '../../security/policy/index.ts'
import {
  DestinationRefused,
  destinationUrlProblem,
  resolvePublic,
  type DestinationRules,
} from './destination-address.ts'
import { EVENT_TYPES } from './event-types.ts'
import { notificationBundle, type NotificationEvent } from './fhir-notification.ts'
import { BACKPORT, topicFor, type FhirTopic } from './fhir-topics.ts'
import * as repo from './repository.ts'
import type { LoadSubscriber } from './subscriber.ts'
import type { SendWebhook } from './webhook-sender.ts'

interface Extension {
  url?: string
  valueString?: string
  valueCode?: string
  valueUnsignedInt?: number
  valuePositiveInt?: number
}
export interface SubscriptionResource {
  resourceType?: unknown
  status?: unknown
  reason?: unknown
  criteria?: unknown
  end?: unknown
  _criteria?: { extension?: Extension[] }
  channel?: {
    type?: unknown
    endpoint?: unknown
    payload?: unknown
    _payload?: { extension?: Extension[] }
    extension?: Extension[]
    header?: unknown
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const invalid = (message: string, expression: string, status = 400) =>
  new FhirError(status, status === 403 ? 'forbidden' : 'invalid', message, [expression])

export interface FhirSubscriptionDeps {
  readonly db: Database
  readonly pdp: PolicyDecisionPoint
  readonly loadSubscriber: LoadSubscriber
  readonly loadResources: (
    resourceType: string,
    ids: readonly string[],
    patientId: string,
  ) => Promise<Record<string, unknown>[]>
  readonly send: SendWebhook
  readonly destinations: DestinationRules
  readonly base: string
  readonly clock: () => Date
}

export function createFhirSubscriptionService(deps: FhirSubscriptionDeps) {
  const { db, clock } = deps

  async function own(principal: Principal, id: string): Promise<repo.Subscription> {
    const s = UUID.test(id) ? await repo.findSubscription(db, id.toLowerCase(), 'fhir') : undefined
    // Another's subscription is concealed as absent.
    if (!s || s.ownerId !== principal.id) throw new FhirError(404, 'not-found', 'No such Subscription')
    return s
  }

  function parse(body: SubscriptionResource): {
    topic: FhirTopic
    endpoint: string
    patientId: string
    payload: repo.PayloadContent
    heartbeat: number | null
  } {
    if (body.resourceType !== 'Subscription')
      throw invalid('resourceType must be Subscription', 'Subscription.resourceType')
    if (typeof body.criteria !== 'string')
      throw invalid('criteria must be a SubscriptionTopic canonical URL', 'Subscription.criteria')
    const topic = topicFor(body.criteria)
    if (!topic)
      throw invalid(
        'unknown SubscriptionTopic (see the CapabilityStatement for the topics served)',
        'Subscription.criteria',
      )
    const channel = body.channel ?? {}
    if (channel.type !== 'rest-hook')
      throw invalid('only the rest-hook channel is supported', 'Subscription.channel.type')
    if (typeof channel.endpoint !== 'string')
      throw invalid('channel.endpoint is required', 'Subscription.channel.endpoint')
    const problem = destinationUrlProblem(channel.endpoint, deps.destinations)
    if (problem) throw invalid(`channel.endpoint ${problem}`, 'Subscription.channel.endpoint')
    if (channel.payload !== undefined && channel.payload !== 'application/fhir+json')
      throw invalid('channel.payload must be application/fhir+json', 'Subscription.channel.payload')
    const content =
      channel._payload?.extension?.find((e) => e.url === BACKPORT.payloadContent)?.valueCode ?? 'id-only'
    if (!['empty', 'id-only', 'full-resource'].includes(content))
      throw invalid(
        'payload content must be empty, id-only or full-resource',
        'Subscription.channel.payload.extension',
      )
    const heartbeatExt = channel.extension?.find((e) => e.url === BACKPORT.heartbeatPeriod)
    const heartbeat = heartbeatExt
      ? Number(heartbeatExt.valueUnsignedInt ?? heartbeatExt.valuePositiveInt)
      : null
    if (heartbeat !== null && !(Number.isInteger(heartbeat) && heartbeat >= 1 && heartbeat <= 86_400))
      throw invalid('heartbeat period must be 1 to 86400 seconds', 'Subscription.channel.extension')
    const filters = (body._criteria?.extension ?? [])
      .filter((e) => e.url === BACKPORT.filterCriteria)
      .map((e) => e.valueString ?? '')
    const filter = new RegExp(`^${topic.resourceType}\\?patient=(?:Patient/)?([0-9a-fA-F-]{36})$`).exec(
      filters[0] ?? '',
    )
    if (filters.length !== 1 || !filter?.[1] || !UUID.test(filter[1]))
      throw invalid(
        `exactly one filter ${topic.resourceType}?patient=Patient/<id> is required`,
        'Subscription.criteria.extension',
      )
    return {
      topic,
      endpoint: channel.endpoint,
      patientId: filter[1].toLowerCase(),
      payload: content as repo.PayloadContent,
      heartbeat,
    }
  }

  async function present(s: repo.Subscription): Promise<Record<string, unknown>> {
    const topic = s.topic ?? ''
    const resourceType = topicFor(topic)?.resourceType ?? 'Observation'
    return {
      resourceType: 'Subscription',
      id: s.id,
      meta: { profile: [BACKPORT.subscriptionProfile], lastUpdated: s.updatedAt.toISOString() },
      status: s.status,
      reason: s.description ?? 'Vigil notifications',
      criteria: topic,
      _criteria: {
        extension: [
          {
            url: BACKPORT.filterCriteria,
            valueString: `${resourceType}?patient=Patient/${s.patientId ?? ''}`,
          },
        ],
      },
      ...(s.statusReason ? { error: s.statusReason } : {}),
      channel: {
        type: 'rest-hook',
        endpoint: s.url,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: BACKPORT.payloadContent, valueCode: s.payload }] },
        ...(s.heartbeatSeconds
          ? { extension: [{ url: BACKPORT.heartbeatPeriod, valueUnsignedInt: s.heartbeatSeconds }] }
          : {}),
      },
    }
  }

  return {
    present,

    async create(principal: Principal, body: SubscriptionResource): Promise<repo.Subscription> {
      const p = parse(body)
      // As for webhooks (subscription.service.ts): a host name is judged by the addresses it
      // resolves to, before anything is stored — not left to fail the handshake.
      if (!deps.destinations.allowPrivate) {
        try {
          await resolvePublic(new URL(p.endpoint).hostname, deps.destinations)
        } catch (err) {
          throw invalid(
            err instanceof DestinationRefused
              ? 'channel.endpoint must not resolve to a private, loopback or link-local address'
              : 'channel.endpoint: the host name does not resolve',
            'Subscription.channel.endpoint',
          )
        }
      }
      const action = EVENT_TYPES[p.topic.eventType].action
      const decision = await deps.pdp.decide(
        principal,
        action,
        { type: p.topic.resourceType, patientId: p.patientId },
        { requestId: randomUUID(), ip: '', now: clock() },
      )
      if (decision.effect !== 'permit')
        throw invalid(
          'the caller may not read this patient\u2019s resources of this topic',
          'Subscription.criteria.extension',
          403,
        )
      const id = randomUUID()
      const created = await repo.insertSubscription(
        db,
        {
          id,
          kind: 'fhir',
          organisationId: principal.organisationId ?? null,
          ownerKind: principal.kind === 'client' ? 'client' : 'user',
          ownerId: principal.id,
          ownerClientId: principal.clientId ?? null,
          scopes: [...principal.scopes],
          launchPatientId: principal.launchPatientId ?? null,
          url: p.endpoint,
          eventTypes: [p.topic.eventType],
          patientId: p.patientId,
          payload: p.payload,
          description: typeof body.reason === 'string' ? body.reason.slice(0, 500) : null,
          status: 'requested',
          secretSealed: null,
          topic: p.topic.canonical,
          heartbeatSeconds: p.heartbeat,
        },
        clock(),
      )
      // Backport IG: a handshake before the first event; its answer decides active or error.
      const handshake = JSON.stringify(
        notificationBundle(deps.base, { ...created, status: 'active' }, 'handshake', []),
      )
      const result = await deps.send(created.url, { 'content-type': 'application/fhir+json' }, handshake)
      const ok = result.status !== undefined && result.status >= 200 && result.status < 300
      await repo.setSubscriptionStatus(
        db,
        id,
        ok ? 'active' : 'error',
        ok ? null : `handshake failed: ${result.error ?? `HTTP ${result.status}`}`.slice(0, 500),
        clock(),
      )
      if (ok) await repo.markNotified(db, id, clock())
      return (await repo.findSubscription(db, id)) as repo.Subscription
    },

    read: own,

    async remove(principal: Principal, id: string): Promise<void> {
      await own(principal, id)
      await repo.deleteSubscription(db, id.toLowerCase())
    },

    async status(principal: Principal, id: string): Promise<Record<string, unknown>> {
      const s = await own(principal, id)
      return notificationBundle(deps.base, s, 'query-status', [])
    },

    /** $events: the notifications numbered in [since, until] still kept, each decided again now. */
    async events(
      principal: Principal,
      id: string,
      since: number,
      until: number,
      content: repo.PayloadContent | undefined,
    ): Promise<Record<string, unknown>> {
      const s = await own(principal, id)
      const subscriber = await deps.loadSubscriber(s)
      const deliveries = await repo.deliveriesByNumber(db, s.id, since, until)
      const outbox = await repo.eventsByOutboxIds(
        db,
        deliveries.map((d) => d.outboxId),
      )
      const payload = content ?? s.payload
      const events: NotificationEvent[] = []
      for (const d of deliveries) {
        const event = outbox.get(d.outboxId)
        const topic = s.topic ? topicFor(s.topic) : undefined
        if (!event || !topic || !subscriber || !event.patientId || d.eventNumber === null) continue
        const decision = await deps.pdp.decide(
          subscriber,
          EVENT_TYPES[topic.eventType].action,
          { type: topic.resourceType, patientId: event.patientId },
          { requestId: randomUUID(), ip: '', now: clock() },
        )
        if (decision.effect !== 'permit') continue
        const ids = (
          Array.isArray(event.payload.readingIds) ? event.payload.readingIds : [event.payload.resourceId]
        ).filter((v): v is string => typeof v === 'string')
        events.push({
          number: d.eventNumber,
          event,
          resources:
            payload === 'full-resource'
              ? await deps.loadResources(topic.resourceType, ids, event.patientId)
              : undefined,
        })
      }
      return notificationBundle(deps.base, { ...s, payload }, 'query-event', events)
    },
  }
}

export type FhirSubscriptionService = ReturnType<typeof createFhirSubscriptionService>
