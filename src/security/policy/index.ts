export { assertRouteAccess, registerRouteAccess, RouteAccessError } from './route-access.ts'
export {
  denyAll,
  type AccessFactSource,
  type ConsentFact,
  type Decision,
  type DecisionContext,
  type PatientFacts,
  type PatientScope,
  type PolicyDecisionPoint,
  type Resource,
} from './decision.ts'
export { createPdp, evaluate, type PdpDeps } from './pdp.ts'
export { RULES, ACTIONS, categoryOf, type Rule, type Action } from './rules.ts'
export { scopePermits } from './scopes.ts'
