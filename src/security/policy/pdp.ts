// The policy decision point (ADR-0008): the rules of rules.ts evaluated over a principal, an
// action, a resource and — for a patient's data — that patient's facts, loaded fresh for every
// decision so that a revoked consent or a closed break-glass session refuses the very next request.
//
// Outcomes: no rule for this kind of principal → deny (403); the token's scopes do not carry the
// action → deny (403); a patient's data the principal has no relationship with, or that does not
// exist → deny concealed (404: the caller learns nothing of its existence).

import type { Principal } from '../authn/index.ts'
import type {
  AccessFactSource,
  Decision,
  DecisionContext,
  GranteeFacts,
  GranteeFactSource,
  PatientFacts,
  PatientScope,
  PolicyDecisionPoint,
  Resource,
} from './decision.ts'
import { ACTIONS, FORBIDS, RULES, type Action, type Forbid, type Rule } from './rules.ts'
import { scopePermits } from './scopes.ts'

const NO_FACTS: PatientFacts = {
  exists: false,
  erased: false,
  organisationId: null,
  careTeam: false,
  consents: [],
  breakGlass: null,
}

const NO_GRANTEE: GranteeFacts = { exists: false, roles: [] }

/** Once a rule permits: the first forbid rule that applies turns it into a refusal (segregation of duties, ADR-0012). */
function forbidden(
  permit: Decision,
  principal: Principal,
  action: string,
  resource: Resource,
  grantee: GranteeFacts,
  forbids: readonly Forbid[],
): Decision {
  const forbid = forbids.find(
    (f) => f.actions.includes(action as Action) && f.when(principal, resource, grantee, permit.rule),
  )
  if (!forbid) return permit
  return {
    effect: 'deny',
    rule: forbid.id,
    problem: forbid.problem,
    detail: forbid.detail,
    securityEvent: 'segregation-of-duties.refused',
    ...(permit.patientId !== undefined ? { patientId: permit.patientId } : {}),
  }
}

/**
 * Pure: the decision for these facts (facts are needed only when resource.patientId is set; the
 * grantee's only when resource.grant is).
 */
/** Up to this many patients named by a search are decided one by one; more, and the caller's reach is listed first. */
const NAMED_PATIENTS_DECIDED_ALONE = 20

export function evaluate(
  principal: Principal,
  action: string,
  resource: Resource,
  facts: PatientFacts | undefined,
  now: Date,
  rules: readonly Rule[] = RULES,
  grantee?: GranteeFacts,
  forbids: readonly Forbid[] = FORBIDS,
): Decision {
  if (!(action in ACTIONS)) return { effect: 'deny', rule: 'unknown-action' }
  const candidates = rules.filter((r) => r.actions.includes(action as Action) && r.who(principal))
  if (candidates.length === 0) return { effect: 'deny', rule: 'default-deny' }
  const patientId = resource.patientId
  if (!scopePermits(principal, action, patientId, resource.interaction)) {
    return {
      effect: 'deny',
      rule: 'scope-missing',
      ...(patientId !== undefined ? { conceal: true, patientId } : {}),
    }
  }
  // A grant is decided on the account it goes to: unnamed or unknown, nothing to grant (concealed).
  if (action === 'access.grant') {
    if (resource.grant === undefined) return { effect: 'deny', rule: 'grant-unspecified' }
    if (!grantee?.exists) return { effect: 'deny', rule: 'grantee-unknown', conceal: true }
  }
  const objectLevel = patientId !== undefined || resource.organisationId !== undefined
  if (!objectLevel)
    return forbidden(
      { effect: 'permit', rule: (candidates[0] as Rule).id },
      principal,
      action,
      resource,
      grantee ?? NO_GRANTEE,
      forbids,
    )

  const f = patientId !== undefined ? (facts ?? NO_FACTS) : NO_FACTS
  if (patientId !== undefined && (!f.exists || f.erased))
    return { effect: 'deny', rule: 'patient-unknown', conceal: true, patientId }
  for (const rule of candidates) {
    if (!rule.object)
      return forbidden(
        { effect: 'permit', rule: rule.id, ...(patientId !== undefined ? { patientId } : {}) },
        principal,
        action,
        resource,
        grantee ?? NO_GRANTEE,
        forbids,
      )
    const verdict = rule.object(principal, resource, f, now, action as Action)
    if (verdict === false) continue
    const extra = verdict === true ? {} : verdict
    const permit: Decision = {
      effect: 'permit',
      rule: rule.id,
      ...(patientId !== undefined ? { patientId } : {}),
      ...(extra.consentId ? { consentId: extra.consentId } : {}),
      ...(extra.breakGlassId ? { breakGlass: true, breakGlassId: extra.breakGlassId } : {}),
    }
    return forbidden(permit, principal, action, resource, grantee ?? NO_GRANTEE, forbids)
  }
  return {
    effect: 'deny',
    rule: 'no-relationship',
    conceal: true,
    ...(patientId !== undefined ? { patientId } : {}),
  }
}

/**
 * A device writing readings for the patient it is bound to now is decided on the facts read with
 * its binding (ADR-0033): the patient exists (the binding refers to it) and whether it is erased.
 * That rule (device.bound-patient) looks at nothing else, so the facts query, a statement on every
 * reading, is not needed. The principal cache drops the facts with the principal on any write to
 * the patient's row. Every other action, principal and patient reads the facts as before (ADR-0008).
 */
export function boundPatientFacts(
  principal: Principal,
  action: string,
  patientId: string,
): PatientFacts | undefined {
  if (principal.kind !== 'device' || action !== 'device-data.write') return undefined
  if (principal.boundPatient === undefined || principal.patientId !== patientId) return undefined
  return {
    exists: true,
    erased: principal.boundPatient.erased,
    organisationId: principal.boundPatient.organisationId,
    careTeam: false,
    consents: [],
    breakGlass: null,
  }
}

export interface PdpDeps {
  readonly facts: AccessFactSource
  /** The roles an account receiving a grant holds; without it every grant is refused (fail closed). */
  readonly grantees?: GranteeFactSource
  readonly rules?: readonly Rule[]
}

export function createPdp(deps: PdpDeps): Required<PolicyDecisionPoint> {
  const rules = deps.rules ?? RULES
  async function decide(
    principal: Principal,
    action: string,
    resource: Resource,
    context: Pick<DecisionContext, 'now'>,
  ): Promise<Decision> {
    const facts =
      resource.patientId !== undefined
        ? (boundPatientFacts(principal, action, resource.patientId) ??
          (await deps.facts.patientFacts(principal, resource.patientId, context.now)))
        : undefined
    const grantee =
      resource.grant !== undefined && deps.grantees
        ? await deps.grantees.granteeFacts(resource.grant.userId)
        : undefined
    return evaluate(principal, action, resource, facts, context.now, rules, grantee)
  }
  return {
    decide,
    async patientScope(principal, action, now, within, interaction): Promise<PatientScope> {
      // A search that names its patients (Observation?patient=…) is decided for those alone: one
      // decision each, instead of listing and deciding every patient in the caller's reach (a
      // clinician's care team, an organisation's service: hundreds). The decision is the same
      // authority a read of one resource uses, so the answer cannot widen (issue 17, goal 5).
      let candidates: Set<string>
      if (within !== undefined && within.length <= NAMED_PATIENTS_DECIDED_ALONE) candidates = new Set(within)
      else {
        candidates = new Set(await deps.facts.candidatePatients(principal, now))
        if (principal.patientId) candidates.add(principal.patientId)
        if (within !== undefined) candidates = new Set(within.filter((id) => candidates.has(id)))
      }
      const ids: string[] = []
      const decisions = new Map<string, Decision>()
      for (const id of candidates) {
        const d = await decide(principal, action, { type: action, patientId: id, interaction }, { now })
        if (d.effect !== 'permit') continue
        ids.push(id)
        decisions.set(id, d)
      }
      return ids.length === 0 ? { kind: 'none' } : { kind: 'patients', ids, decisions }
    },
  }
}
