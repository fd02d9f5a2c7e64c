// Webhook subscriptions (ADR-0020): create, list, read, delete, rotate the secret, and look at or
// re-drive an organisation's dead deliveries. The organisation a subscription belongs to is
// checked object by object through the caller's `authorize` (the route's policy decision point
// call, audited with the request); a patient filter is checked for the subscriber the deliveries
// will be judged as, so nobody subscribes to a patient they may not see.

import { randomUUID } from 'node:crypto'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { Decision, PolicyDecisionPoint, Resource } from '../../security/policy/index.ts'
import { ACTIONS } from '../../security/policy/rules.ts'
import {
  DestinationRefused,
  destinationUrlProblem,
  resolvePublic,
  type DestinationRules,
} from './destination-address.ts'
import { EVENT_TYPES, type EventType } from './event-types.ts'
import * as repo from './repository.ts'
import type { LoadSubscriber } from './subscriber.ts'
import { generateWebhookSecret, sealSecret } from './webhook-secret.ts'

export interface CreateSubscription {
  readonly url: string
  readonly eventTypes: readonly EventType[]
  readonly patientId?: string | undefined
  readonly payload?: 'id-only' | 'full-resource' | undefined
  readonly description?: string | undefined
  readonly organisationId?: string | undefined
}

export type Authorize = (action: string, resource: Resource) => Promise<Decision>

export interface SubscriptionServiceDeps {
  readonly db: Database
  readonly keyring: Pick<Keyring, 'encrypt'>
  readonly pdp: PolicyDecisionPoint
  readonly loadSubscriber: LoadSubscriber
  readonly destinations: DestinationRules
  readonly clock: () => Date
}

const field = (
  pointer: string,
  detail: string,
  status: 'VALIDATION_FAILED' | 'FORBIDDEN' = 'VALIDATION_FAILED',
) =>
  new AppError(
    status,
    status === 'FORBIDDEN'
      ? 'The subscriber may not receive events about this patient'
      : 'The subscription is not valid',
    { errors: [{ pointer, detail }] },
  )

/** The organisations whose subscriptions this principal manages. */
function managedOrganisations(p: Principal): string[] {
  if (p.kind === 'client') return p.organisationId ? [p.organisationId] : []
  return (p.memberships ?? [])
    .filter((m) => m.role === 'org-admin' && m.organisationId !== null)
    .map((m) => m.organisationId as string)
}

/** The read scopes an organisation's integration needs for these event types. */
function readScopes(types: readonly EventType[]): string[] {
  return [
    ...new Set(
      types.map((t) => (ACTIONS[EVENT_TYPES[t].action] as { scopes: readonly string[] }).scopes[0] as string),
    ),
  ]
}

export function createSubscriptionService(deps: SubscriptionServiceDeps) {
  const { db, clock } = deps

  /** A URL a delivery may go to: static rules, then (unless private destinations are allowed) the resolved addresses. */
  async function checkUrl(url: string): Promise<void> {
    const problem = destinationUrlProblem(url, deps.destinations)
    if (problem) throw field('/body/url', problem)
    if (deps.destinations.allowPrivate) return
    try {
      await resolvePublic(new URL(url).hostname, deps.destinations)
    } catch (err) {
      throw field(
        '/body/url',
        err instanceof DestinationRefused
          ? 'must not resolve to a private, loopback or link-local address'
          : 'the host name does not resolve',
      )
    }
  }

  async function load(id: string, authorize: Authorize): Promise<repo.Subscription> {
    const s = await repo.findSubscription(db, id, 'webhook')
    if (!s) throw new AppError('NOT_FOUND', 'No such subscription')
    await authorize('subscriptions.manage', {
      type: 'subscription',
      id: s.id,
      organisationId: s.organisationId,
    })
    return s
  }

  return {
    async create(
      principal: Principal,
      input: CreateSubscription,
      authorize: Authorize,
    ): Promise<{ subscription: repo.Subscription; secret: string }> {
      const managed = managedOrganisations(principal)
      const organisationId = input.organisationId ?? (managed.length === 1 ? managed[0] : undefined)
      if (!organisationId)
        throw field(
          '/body/organisationId',
          managed.length > 1
            ? 'required: you administer several organisations'
            : 'no organisation of yours to subscribe for',
        )
      await authorize('subscriptions.manage', { type: 'subscription', organisationId })
      await checkUrl(input.url)
      const types = [...new Set(input.eventTypes)]

      const id = randomUUID()
      const owner: Pick<repo.Subscription, 'ownerKind' | 'ownerId' | 'ownerClientId' | 'scopes'> =
        principal.kind === 'client'
          ? {
              ownerKind: 'client',
              ownerId: principal.id,
              ownerClientId: principal.clientId ?? principal.id,
              scopes: [...principal.scopes],
            }
          : {
              ownerKind: 'organisation',
              ownerId: organisationId,
              ownerClientId: principal.clientId ?? null,
              scopes: readScopes(types),
            }
      const draft: repo.NewSubscription = {
        id,
        kind: 'webhook',
        organisationId,
        ...owner,
        launchPatientId: null,
        url: input.url,
        eventTypes: types,
        patientId: input.patientId?.toLowerCase() ?? null,
        payload: input.payload ?? 'id-only',
        description: input.description ?? null,
        status: 'active',
        secretSealed: null,
      }
      if (draft.patientId) {
        // The subscriber (as deliveries will be judged) must be permitted every event type on this patient.
        const subscriber = await deps.loadSubscriber({
          ...draft,
          statusReason: null,
          previousSecretSealed: null,
          previousSecretExpiresAt: null,
          createdAt: clock(),
          updatedAt: clock(),
          topic: null,
          heartbeatSeconds: null,
          eventsSinceStart: 0,
        })
        for (const t of types) {
          const d = subscriber
            ? await deps.pdp.decide(
                subscriber,
                EVENT_TYPES[t].action,
                { type: EVENT_TYPES[t].resourceType, patientId: draft.patientId },
                { requestId: id, ip: '', now: clock() },
              )
            : undefined
          if (d?.effect !== 'permit')
            throw field(
              '/body/patientId',
              `the subscriber may not receive ${t} events about this patient`,
              'FORBIDDEN',
            )
        }
      }
      const secret = generateWebhookSecret()
      const subscription = await repo.insertSubscription(
        db,
        { ...draft, secretSealed: sealSecret(deps.keyring, id, secret) },
        clock(),
      )
      return { subscription, secret }
    },

    async list(principal: Principal): Promise<repo.Subscription[]> {
      const organisationIds = managedOrganisations(principal)
      if (organisationIds.length === 0) return []
      return repo.listSubscriptions(db, { kind: 'webhook', organisationIds })
    },

    get: load,

    async remove(id: string, authorize: Authorize): Promise<void> {
      await load(id, authorize)
      await repo.deleteSubscription(db, id)
    },

    async rotateSecret(
      id: string,
      overlapSeconds: number,
      authorize: Authorize,
    ): Promise<{ subscription: repo.Subscription; secret: string }> {
      await load(id, authorize)
      const secret = generateWebhookSecret()
      const now = clock()
      await repo.rotateSecret(
        db,
        id,
        sealSecret(deps.keyring, id, secret),
        new Date(now.getTime() + overlapSeconds * 1000),
        now,
      )
      return { subscription: (await repo.findSubscription(db, id)) as repo.Subscription, secret }
    },

    async deliveries(
      id: string,
      status: repo.DeliveryStatus | undefined,
      authorize: Authorize,
    ): Promise<repo.Delivery[]> {
      await load(id, authorize)
      return repo.listDeliveries(db, { subscriptionId: id, ...(status ? { status } : {}), limit: 200 })
    },

    /** Dead deliveries back in the queue; a subscription switched off (410) is switched on again. */
    async redrive(id: string, authorize: Authorize): Promise<number> {
      const s = await load(id, authorize)
      return db.transaction(async (tx) => {
        if (s.status !== 'active') await repo.setSubscriptionStatus(tx, id, 'active', null, clock())
        return repo.redrive(tx, { subscriptionId: id }, clock())
      })
    },
  }
}

export type SubscriptionService = ReturnType<typeof createSubscriptionService>
