// A security event on the API and in webhook payloads: identifiers and counts only.

import { Type, type Static } from 'typebox'
import type { SecurityEventRecord } from './security-events.repository.ts'

export const SECURITY_EVENT_KINDS = [
  'failed-logins',
  'failed-logins-ip',
  'many-patients',
  'new-login-ip',
  'break-glass',
  'forbidden-burst',
] as const

export const SecurityEventView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String({ description: SECURITY_EVENT_KINDS.join(', ') }),
  subject: Type.String({
    description: 'The account, user, device or client id, or the IP address, the event is about',
  }),
  windowStart: Type.String({
    format: 'date-time',
    description: 'Time of the first audit entry of the burst',
  }),
  details: Type.Record(Type.String(), Type.Unknown(), {
    description: 'Counts and audit entry ids (identifiers only)',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  acknowledgedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})
export type SecurityEventView = Static<typeof SecurityEventView>

export function presentSecurityEvent(e: SecurityEventRecord): SecurityEventView {
  return {
    id: e.id,
    kind: e.kind,
    subject: e.subject,
    windowStart: e.windowStart.toISOString(),
    details: e.details,
    createdAt: e.createdAt.toISOString(),
    acknowledgedAt: e.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: e.acknowledgedBy,
    deliveredAt: e.deliveredAt?.toISOString() ?? null,
  }
}
