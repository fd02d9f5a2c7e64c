// An audit entry on the auditor API: every stored column, times in RFC 3339 UTC, the chain
// position and hashes included so an auditor can check an entry against an exported checkpoint.

import { Type, type Static } from 'typebox'
import type { AuditEntry } from '../../audit/index.ts'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const AuditEntryView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  occurredAt: Type.String({ format: 'date-time' }),
  actorKind: Type.String({ description: 'user, device, client, anonymous or system' }),
  actorId: Nullable(Type.String()),
  clientId: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  action: Type.String({
    description: 'The policy action, a security event (login.failed …) or METHOD /route/pattern',
  }),
  resourceType: Nullable(Type.String()),
  resourceId: Nullable(Type.String()),
  patientId: Nullable(Type.String()),
  outcome: Type.String({ description: 'success, denied, failure or error' }),
  status: Type.Union([Type.Integer(), Type.Null()]),
  decisionRule: Nullable(Type.String()),
  consentId: Nullable(Type.String()),
  breakGlass: Type.Boolean(),
  requestId: Nullable(Type.String()),
  traceId: Nullable(Type.String()),
  chain: Type.Integer(),
  seq: Type.Integer(),
  prevHash: Type.String(),
  hash: Type.String(),
})
export type AuditEntryView = Static<typeof AuditEntryView>

export function presentEntry(e: AuditEntry): AuditEntryView {
  return {
    id: e.id,
    occurredAt: e.occurredAt.toISOString(),
    actorKind: e.actorKind,
    actorId: e.actorId,
    clientId: e.clientId,
    ip: e.ip,
    userAgent: e.userAgent,
    action: e.action,
    resourceType: e.resourceType,
    resourceId: e.resourceId,
    patientId: e.patientId,
    outcome: e.outcome,
    status: e.status,
    decisionRule: e.decisionRule,
    consentId: e.consentId,
    breakGlass: e.breakGlass,
    requestId: e.requestId,
    traceId: e.traceId,
    chain: e.chain,
    seq: e.seq,
    prevHash: e.prevHash,
    hash: e.hash,
  }
}
