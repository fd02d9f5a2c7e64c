export {
  assertRouteAccess,
  registerRouteAccess,
  RouteAccessError,
  scopeDecisionOf,
  type PolicySecurityEvent,
  type RouteAccessDeps,
} from './route-access.ts'
export {
  denyAll,
  type AccessFactSource,
  type AccessGrant,
  type GranteeFacts,
  type GranteeFactSource,
  type ConsentFact,
  type Decision,
  type DecisionContext,
  type PatientFacts,
  type PatientScope,
  type PolicyDecisionPoint,
  type Resource,
} from './decision.ts'
export { createPdp, evaluate, type PdpDeps } from './pdp.ts'
export {
  RULES,
  ACTIONS,
  FORBIDS,
  ADMINISTRATIVE_ROLES,
  PHI_ROLES,
  categoryOf,
  type Rule,
  type Action,
  type Forbid,
} from './rules.ts'
export { scopePermits } from './scopes.ts'
