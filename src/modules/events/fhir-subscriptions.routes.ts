// /fhir/R4/Subscription (Subscriptions R5 Backport IG for R4; ADR-0021): create, read, delete,
// $status and $events, for the subscription's owner, under SMART scopes (user/Subscription.*,
// system/Subscription.*). HTTP only; registered inside the FHIR plugin, so errors are
// OperationOutcomes.

import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { FhirError } from '../../fhir-format/outcome.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { FhirSubscriptionService } from './fhir-subscription.service.ts'
import { BACKPORT, FHIR_TOPICS } from './fhir-topics.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'

const AnyResource = Type.Object(
  {},
  { additionalProperties: true, description: 'A FHIR R4 resource (application/fhir+json)' },
)
const IdParams = Type.Object(
  { id: Type.String({ pattern: '^[A-Za-z0-9\\-.]{1,64}$' }) },
  { additionalProperties: false },
)
const EventsQuery = Type.Object(
  {
    eventsSinceNumber: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
    eventsUntilNumber: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
    content: Type.Optional(
      Type.Union([Type.Literal('empty'), Type.Literal('id-only'), Type.Literal('full-resource')]),
    ),
  },
  { additionalProperties: false },
)
const SubscriptionBody = {
  type: 'object',
  required: ['resourceType'],
  description:
    'An R4 Subscription per the Subscriptions Backport IG: criteria = a SubscriptionTopic canonical, one filter, a rest-hook channel',
  examples: [
    {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'New glucose readings of my patient',
      criteria: FHIR_TOPICS[0]?.canonical,
      _criteria: {
        extension: [
          {
            url: BACKPORT.filterCriteria,
            valueString: 'Observation?patient=Patient/00000000-0000-4000-8000-000000000000',
          },
        ],
      },
      channel: {
        type: 'rest-hook',
        endpoint: 'https://app.clinic.example/fhir/notify',
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: BACKPORT.payloadContent, valueCode: 'id-only' }] },
        extension: [{ url: BACKPORT.heartbeatPeriod, valueUnsignedInt: 3600 }],
      },
    },
  ],
} as const

export function fhirSubscriptionRoutes(deps: { subscriptions: FhirSubscriptionService; base: string }) {
  const { subscriptions } = deps
  const principal = (request: FastifyRequest) => request.principal as Principal
  const config = { policy: 'fhir-subscriptions.manage' } as const
  const tags = ['FHIR']
  return async function fhirSubscriptions(app: TypedApp): Promise<void> {
    app.post(
      '/Subscription',
      {
        config,
        schema: {
          tags,
          summary: 'Create a Subscription (rest-hook): a handshake is sent first',
          body: SubscriptionBody,
          response: { 201: AnyResource },
        },
      },
      async (request, reply) => {
        const created = await subscriptions.create(principal(request), request.body)
        reply.code(201).header('location', `${deps.base}/Subscription/${created.id}`)
        return subscriptions.present(created)
      },
    )
    app.get(
      '/Subscription/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Read one of my Subscriptions',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request) =>
        subscriptions.present(await subscriptions.read(principal(request), request.params.id)),
    )
    app.delete(
      '/Subscription/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Delete one of my Subscriptions (answers an OperationOutcome)',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        await subscriptions.remove(principal(request), request.params.id)
        return {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'information', code: 'informational', diagnostics: 'Subscription deleted' }],
        }
      },
    )
    app.get(
      '/Subscription/:id/$status',
      {
        config,
        schema: {
          tags,
          summary: 'The Subscription\u2019s status (Backport IG $status)',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request) => subscriptions.status(principal(request), request.params.id),
    )
    app.get(
      '/Subscription/:id/$events',
      {
        config,
        schema: {
          tags,
          summary: 'Replay notifications by event number (Backport IG $events)',
          params: IdParams,
          querystring: EventsQuery,
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const q = request.query
        const since = Number(q.eventsSinceNumber ?? 1)
        const until = Number(q.eventsUntilNumber ?? Number.MAX_SAFE_INTEGER)
        if (since > until)
          throw new FhirError(400, 'invalid', 'eventsSinceNumber is after eventsUntilNumber', [
            'eventsSinceNumber',
          ])
        return subscriptions.events(principal(request), request.params.id, since, until, q.content)
      },
    )
  }
}
