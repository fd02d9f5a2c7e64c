// A webhook subscription as the API shows it: built field by field, so the sealed secrets and the
// owner's token scopes never leave (the secret is shown once, at creation or rotation).

import { Type, type Static } from 'typebox'
import type { Delivery, Subscription } from './repository.ts'

export const SubscriptionView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  eventTypes: Type.Array(Type.String()),
  patientId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  payload: Type.Union([Type.Literal('id-only'), Type.Literal('full-resource')]),
  description: Type.Union([Type.String(), Type.Null()]),
  organisationId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  status: Type.Union([
    Type.Literal('active'),
    Type.Literal('off'),
    Type.Literal('error'),
    Type.Literal('requested'),
  ]),
  statusReason: Type.Union([Type.String(), Type.Null()]),
  previousSecretExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'After a rotation: until when the previous secret also signs',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})
export type SubscriptionView = Static<typeof SubscriptionView>

export function presentSubscription(s: Subscription): SubscriptionView {
  return {
    id: s.id,
    url: s.url,
    eventTypes: [...s.eventTypes],
    patientId: s.patientId,
    payload: s.payload === 'full-resource' ? 'full-resource' : 'id-only',
    description: s.description,
    organisationId: s.organisationId,
    status: s.status,
    statusReason: s.statusReason,
    previousSecretExpiresAt: s.previousSecretExpiresAt?.toISOString() ?? null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  }
}

export const DeliveryView = Type.Object({
  id: Type.Integer(),
  eventId: Type.String({ format: 'uuid' }),
  eventType: Type.String(),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('delivered'),
    Type.Literal('withheld'),
    Type.Literal('dead'),
  ]),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})
export type DeliveryView = Static<typeof DeliveryView>

export function presentDelivery(d: Delivery): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    finishedAt: d.finishedAt?.toISOString() ?? null,
  }
}
