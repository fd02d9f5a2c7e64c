// The policy decision point's contract. The engine itself arrives with the authorization issue;
// the foundation fixes its shape and installs a PDP that permits nothing (default deny).

import type { Principal } from '../authn/index.ts'

export interface Resource {
  readonly type: string
  readonly id?: string | undefined
  /** The patient the resource belongs to, when it holds health data. */
  readonly patientId?: string | undefined
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
}

export interface PolicyDecisionPoint {
  decide(principal: Principal, action: string, resource: Resource, context: DecisionContext): Decision | Promise<Decision>
}

export const denyAll: PolicyDecisionPoint = {
  decide: () => ({ effect: 'deny', rule: 'default-deny' }),
}
