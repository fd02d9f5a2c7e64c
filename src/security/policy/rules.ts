// The policy rules, as data in one reviewed place (issue 4 grows this into the full PDP with
// organisations, care teams and consent; see ADR-0002). A rule permits; anything without a
// permitting rule is denied. Token scopes narrow a decision, never widen it.

import type { Principal } from '../authn/index.ts'
import type { Decision, PolicyDecisionPoint } from './decision.ts'

interface Rule {
  readonly id: string
  readonly action: string
  readonly requiredScope: string
  readonly permits: (principal: Principal) => boolean
}

export const RULES: readonly Rule[] = [
  { id: 'self.read-own-identity', action: 'account.read', requiredScope: 'account:read', permits: () => true },
]

export function createRulesPdp(rules: readonly Rule[] = RULES): PolicyDecisionPoint {
  return {
    decide(principal, action): Decision {
      for (const rule of rules) {
        if (rule.action !== action) continue
        if (!principal.scopes.includes(rule.requiredScope)) return { effect: 'deny', rule: `${rule.id}:scope-missing` }
        if (rule.permits(principal)) return { effect: 'permit', rule: rule.id }
      }
      return { effect: 'deny', rule: 'default-deny' }
    },
  }
}
