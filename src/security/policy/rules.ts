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
  // OAuth clients are the authorization server's trust roots: only a platform administrator
  // signed in as themselves, never a device or service token. `admin` exists only as a global
  // role (user_roles_scope check, migrations/0002), so holding it means holding it platform-wide.
  {
    id: 'admin.manage-clients',
    action: 'clients.manage',
    requiredScope: 'admin:clients',
    permits: (principal) => principal.kind === 'user' && principal.roles.includes('admin'),
  },
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
