// An audit entry: who, from where, what, when (UTC), outcome — identifiers only, never PHI
// (SRS §Product contract, non-negotiables). The hash covers every column, in a fixed order with explicit nulls,
// so any edit of a stored row changes it (see ADR-0006).

import { createHash } from 'node:crypto'

export type ActorKind = 'user' | 'device' | 'client' | 'anonymous' | 'system'
/** success: 2xx/3xx; denied: 401/403/429 or a concealed (404) denial; failure: other 4xx; error: 5xx. */
export type Outcome = 'success' | 'denied' | 'failure' | 'error'

/** What a caller records. */
export interface AuditEntryInput {
  readonly actorKind: ActorKind
  readonly actorId?: string | null | undefined
  readonly clientId?: string | null | undefined
  readonly ip?: string | null | undefined
  readonly userAgent?: string | null | undefined
  /** The policy action (`device-data.read`) or `METHOD /route/pattern`. */
  readonly action: string
  readonly resourceType?: string | null | undefined
  readonly resourceId?: string | null | undefined
  readonly patientId?: string | null | undefined
  readonly outcome: Outcome
  readonly status?: number | null | undefined
  readonly decisionRule?: string | null | undefined
  readonly consentId?: string | null | undefined
  readonly breakGlass?: boolean | undefined
  readonly requestId?: string | null | undefined
  readonly traceId?: string | null | undefined
}

/** A stored entry, as the chain and the verifier see it. */
export interface AuditEntry {
  readonly id: string
  readonly chain: number
  readonly seq: number
  readonly occurredAt: Date
  readonly actorKind: string
  readonly actorId: string | null
  readonly clientId: string | null
  readonly ip: string | null
  readonly userAgent: string | null
  readonly action: string
  readonly resourceType: string | null
  readonly resourceId: string | null
  readonly patientId: string | null
  readonly outcome: string
  readonly status: number | null
  readonly decisionRule: string | null
  readonly consentId: string | null
  readonly breakGlass: boolean
  readonly requestId: string | null
  readonly traceId: string | null
  readonly prevHash: string
  readonly hash: string
}

export const GENESIS_HASH = '0'.repeat(64)
export const USER_AGENT_MAX = 256
const FORMAT = 'vigil-audit-v1'

/** Bounded, so a hostile header cannot bloat the trail; cut on a code point boundary. */
export function truncateUserAgent(ua: string | null | undefined): string | null {
  if (ua === undefined || ua === null || ua === '') return null
  // PostgreSQL's length() counts code points, as Array.from does.
  return ua.length <= USER_AGENT_MAX ? ua : Array.from(ua).slice(0, USER_AGENT_MAX).join('')
}

/** The canonical serialisation: a JSON array in a fixed field order, nulls explicit, time as
 * RFC 3339 UTC with milliseconds (what a timestamptz written from a JS Date reads back as). */
export function canonicalEntry(e: Omit<AuditEntry, 'hash'>): string {
  return JSON.stringify([FORMAT, ...entryValues(e)])
}

/** The entry's fields in their one fixed order: hashed in this order, and stored in this order. */
export function entryValues(e: Omit<AuditEntry, 'hash'>): unknown[] {
  return [
    e.id,
    e.chain,
    e.seq,
    e.occurredAt.toISOString(),
    e.actorKind,
    e.actorId,
    e.clientId,
    e.ip,
    e.userAgent,
    e.action,
    e.resourceType,
    e.resourceId,
    e.patientId,
    e.outcome,
    e.status,
    e.decisionRule,
    e.consentId,
    e.breakGlass,
    e.requestId,
    e.traceId,
    e.prevHash,
  ]
}

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonicalEntry(e), 'utf8').digest('hex')
}
