export { assertRouteAccess, registerRouteAccess, RouteAccessError } from './route-access.ts'
export { denyAll, type Decision, type DecisionContext, type PolicyDecisionPoint, type Resource } from './decision.ts'
