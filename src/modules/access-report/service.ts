// A patient's access report (issue 15) — the accounting of disclosures HIPAA (45 CFR 164.528) gives
// patients a right to: every audit entry naming their record, by anyone but themself, newest
// first, with who (the person, their roles and organisations, or the device or service), when,
// what, the outcome, and on what grounds the policy let them (care team, consent, break-glass …).
// Read from the tamper-evident trail, which names every patient a read, search or list carried
// (src/audit/http-audit.ts).

import { searchEntries } from '../../audit/search.ts'
import type { AuditEntry } from '../../audit/index.ts'
import type { Database } from '../../platform/db/index.ts'
import type { CursorSeal } from '../../platform/http/cursor.ts'
import { actorsById, type ActorInfo } from './repository.ts'

export type Grounds =
  | 'care-team'
  | 'consent'
  | 'break-glass'
  | 'own-organisation-service'
  | 'bound-device'
  | 'administration'
  | 'self'
  | 'none'

/** The grounds of an entry, from the rule that decided it (src/security/policy/rules.ts). */
export function groundsOf(e: Pick<AuditEntry, 'decisionRule' | 'breakGlass' | 'outcome'>): Grounds {
  if (e.breakGlass) return 'break-glass'
  switch (e.decisionRule) {
    case 'clinician.care-team':
      return 'care-team'
    case 'consent.user':
    case 'consent.organisation':
      return 'consent'
    case 'clinician.break-glass':
    case 'clinician.open-break-glass':
      return 'break-glass'
    case 'service.own-organisation':
      return 'own-organisation-service'
    case 'device.bound-patient':
      return 'bound-device'
    case 'patient.own-record':
      return 'self'
    default:
      if (e.decisionRule?.startsWith('admin.') || e.decisionRule?.startsWith('org-admin.'))
        return 'administration'
      return 'none'
  }
}

export interface AccessReportEntry {
  readonly id: string
  readonly occurredAt: string
  readonly actor: {
    readonly kind: string
    readonly id: string | null
    readonly email: string | null
    readonly roles: readonly string[]
    readonly organisations: readonly string[]
  }
  readonly clientId: string | null
  readonly action: string
  readonly outcome: string
  readonly grounds: Grounds
  readonly consentId: string | null
  readonly breakGlass: boolean
}

export async function accessReport(
  db: Database,
  seal: CursorSeal,
  query: {
    patientId: string
    ownUserId: string
    from?: Date | undefined
    to?: Date | undefined
    limit: number
    cursor?: string | undefined
  },
): Promise<{ entries: AccessReportEntry[]; next: string | null }> {
  const page = await searchEntries(
    db,
    {
      patient: query.patientId,
      notActor: query.ownUserId,
      after: query.from ? [{ at: query.from, inclusive: true }] : undefined,
      before: query.to ? [{ at: query.to, inclusive: false }] : undefined,
      limit: query.limit,
      cursor: query.cursor,
    },
    seal,
  )
  const actors = await actorsById(db, [
    ...new Set(
      page.entries.filter((e) => e.actorKind === 'user' && e.actorId).map((e) => e.actorId as string),
    ),
  ])
  return {
    entries: page.entries.map((e) => {
      const who: ActorInfo | undefined =
        e.actorKind === 'user' && e.actorId ? actors.get(e.actorId) : undefined
      return {
        id: e.id,
        occurredAt: e.occurredAt.toISOString(),
        actor: {
          kind: e.actorKind,
          id: e.actorId,
          email: who?.email ?? null,
          roles: who?.roles ?? [],
          organisations: who?.organisations ?? [],
        },
        clientId: e.clientId,
        action: e.action,
        outcome: e.outcome,
        grounds: groundsOf(e),
        consentId: e.consentId,
        breakGlass: e.breakGlass,
      }
    }),
    next: page.next ?? null,
  }
}
