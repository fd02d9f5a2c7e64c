// The policy decision point's contract (ADR-0008): decide(principal, action, resource, context)
// → permit or deny, naming the rule — and the consent or break-glass session — that decided.

import type { Interaction } from './scopes.ts'
import type { Principal } from '../authn/index.ts'

export interface Resource {
  readonly type: string
  readonly id?: string | undefined
  /** The patient the resource belongs to, when it holds health data: the object-level check. */
  readonly patientId?: string | undefined
  /** The organisation an administrative resource (user, device, care team) belongs to. */
  readonly organisationId?: string | null | undefined
  /**
   * A grant of access to an account (action `access.grant`): a role in an organisation, or a place
   * in a patient's care team. The decision point loads what the account holds (GranteeFacts) and
   * applies the segregation-of-duties rules (ADR-0012).
   */
  readonly grant?: AccessGrant | undefined
  /** The FHIR interaction performed (SMART v2 permission letter): the scope must carry exactly it (ADR-0032). */
  readonly interaction?: Interaction | undefined
}

export type AccessGrant =
  | { readonly userId: string; readonly kind: 'role'; readonly role: string }
  | { readonly userId: string; readonly kind: 'care-team' }

/** What the account receiving a grant holds now, read fresh for the decision. */
export interface GranteeFacts {
  readonly exists: boolean
  /** Every role the account holds, platform-wide or in any organisation. */
  readonly roles: readonly string[]
}

export interface GranteeFactSource {
  granteeFacts(userId: string): Promise<GranteeFacts>
}

export interface DecisionContext {
  readonly requestId: string
  readonly ip: string
  readonly now: Date
}

export interface Decision {
  readonly effect: 'permit' | 'deny'
  /** The rule that decided, for the audit entry. */
  readonly rule: string
  /** When denied: answer 404 instead of 403, so the caller learns nothing of the resource's existence. */
  readonly conceal?: boolean
  readonly consentId?: string
  /** Permitted only by an open break-glass session (marked in the audit entry). */
  readonly breakGlass?: boolean
  readonly breakGlassId?: string
  /** The patient the decision was about (object-level decisions). */
  readonly patientId?: string
  /** A refusal with its own problem code (403), rather than the generic FORBIDDEN. */
  readonly problem?: 'SEGREGATION_OF_DUTIES'
  /** Why, in words for the caller (no identifiers, no health data). */
  readonly detail?: string
  /** A refusal that is also a security event (written to the audit trail as its own entry). */
  readonly securityEvent?: string
}

/** The patients a principal may reach for an action, for lists and searches (filtered in SQL). */
export type PatientScope =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'patients'
      readonly ids: readonly string[]
      /** The permit that let each patient in (by id as given): the grounds of the read's audit entries. */
      readonly decisions?: ReadonlyMap<string, Decision>
    }

export interface PolicyDecisionPoint {
  decide(
    principal: Principal,
    action: string,
    resource: Resource,
    context: DecisionContext,
  ): Decision | Promise<Decision>
  /**
   * Every patient the principal may reach with this action now (consents, care teams, break-glass,
   * own record) — or, given `within` (the patients a search names), those of them it may reach.
   */
  patientScope?(
    principal: Principal,
    action: string,
    now: Date,
    within?: readonly string[],
    interaction?: Interaction,
  ): Promise<PatientScope>
}

export const denyAll: PolicyDecisionPoint = {
  decide: () => ({ effect: 'deny', rule: 'default-deny' }),
}

/** The facts about one patient the rules need, loaded fresh for every decision (no cache: a revoked consent refuses the very next request). */
export interface ConsentFact {
  readonly id: string
  readonly granteeKind: 'user' | 'organisation'
  readonly granteeId: string
  readonly categories: readonly string[]
  readonly access: 'read' | 'read-write'
  readonly purpose: string
  readonly expiresAt: Date
}

export interface PatientFacts {
  readonly exists: boolean
  readonly erased: boolean
  readonly organisationId: string | null
  /** The principal (a user) is in the patient's care team. */
  readonly careTeam: boolean
  /** Unrevoked, unexpired consents of the patient naming the principal or one of its organisations. */
  readonly consents: readonly ConsentFact[]
  /** The principal's open break-glass session for this patient. */
  readonly breakGlass: { readonly id: string; readonly expiresAt: Date } | null
}

export interface AccessFactSource {
  patientFacts(principal: Principal, patientId: string, now: Date): Promise<PatientFacts>
  /** Candidate patients for lists: the principal's care teams, consents, break-glass sessions and organisation. */
  candidatePatients(principal: Principal, now: Date): Promise<readonly string[]>
}
