// Default deny (SRS §Product contract; ADR-0002). Every route declares either the policy action
// that guards it (`config: { policy: 'device-data.write' }`) or an explicit public exception with
// its reason (`config: { public: 'liveness probe for orchestrators' }`). A route with neither —
// or with both — cannot be registered, so the service fails at start-up rather than serving it.

import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { AppError } from '../../platform/http/errors.ts'
import type { Authenticate, Principal } from '../authn/index.ts'
import type { Decision, PatientScope, PolicyDecisionPoint, Resource } from './decision.ts'
import { categoryOf, type Action } from './rules.ts'
import { fhirInteraction, requiredScopes, type Interaction } from './scopes.ts'

/**
 * The FHIR interaction of this request's route, for the route's own policy action: what its SMART
 * scope must carry. Undefined off the FHIR API, and for any other action a handler decides (a
 * DiagnosticReport create reading its result Observations names its interaction itself).
 */
function interactionOf(request: FastifyRequest, action: string): Interaction | undefined {
  if (action !== request.routeOptions.config.policy) return undefined
  return fhirInteraction(request.method, request.routeOptions.url ?? '')
}

/**
 * The error for a denial: concealed → 404; the token's scopes do not carry the action → 403
 * INSUFFICIENT_SCOPE naming the scope, in the body and in WWW-Authenticate (RFC 6750 §3.1);
 * otherwise 403 FORBIDDEN.
 */
function denial(
  request: FastifyRequest,
  principal: Principal,
  action: string,
  decision: Decision,
  interaction: Interaction | undefined,
): AppError {
  if (decision.conceal) return new AppError('NOT_FOUND', decision.detail)
  if (decision.rule !== 'scope-missing') return new AppError('FORBIDDEN', decision.detail)
  const scope = requiredScopes(
    principal,
    action,
    (request.routeOptions.url ?? '').startsWith('/fhir/'),
    interaction,
  ).join(' ')
  return new AppError(
    'INSUFFICIENT_SCOPE',
    `The access token does not carry the scope this operation needs: ${scope}`,
    {
      scope,
      headers: { 'www-authenticate': `Bearer realm="vigil", error="insufficient_scope", scope="${scope}"` },
    },
  )
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The policy action this route is guarded by. */
    policy?: Action
    /** Why this route is open to anonymous callers; reviewed like code. */
    public?: string
  }
  interface FastifyRequest {
    principal: Principal | null
    decision: Decision | null
    /**
     * The object-level check (ADR-0008): decides `action` on one resource — for a patient's data,
     * with that patient's care team, consents and break-glass — and throws 404 (concealed) or 403
     * when denied. The permitting decision becomes the request's audit decision.
     */
    authorize(action: string, resource: Resource): Promise<Decision>
    /** The patients this request may reach with `action`, for lists and searches (filter in SQL). */
    patientScope(action: string, within?: readonly string[]): Promise<PatientScope>
    /** The permits patientScope gave this request, by action and patient: its audit entries' grounds. */
    scopeDecisions: Map<string, Decision> | null
    /** Set while a patient-data route has not yet checked an object; a 2xx with it set is a bug and answers 500. */
    objectCheckPending: boolean
  }
}

export class RouteAccessError extends Error {
  override name = 'RouteAccessError'
}

const POLICY_ACTION = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/
const MIN_REASON_LENGTH = 10

export function assertRouteAccess(
  route: Pick<RouteOptions, 'method' | 'url' | 'config'>,
): 'policy' | 'public' {
  const where = `${String(route.method)} ${route.url}`
  const config = (route.config ?? {}) as { policy?: unknown; public?: unknown }
  const hasPolicy = config.policy !== undefined
  const hasPublic = config.public !== undefined
  if (hasPolicy && hasPublic)
    throw new RouteAccessError(`Route ${where} declares both a policy and a public exception; choose one`)
  if (hasPolicy) {
    if (typeof config.policy !== 'string' || !POLICY_ACTION.test(config.policy)) {
      throw new RouteAccessError(
        `Route ${where} has an invalid policy action; expected a dotted name such as "device-data.write"`,
      )
    }
    return 'policy'
  }
  if (hasPublic) {
    if (typeof config.public !== 'string' || config.public.trim().length < MIN_REASON_LENGTH) {
      throw new RouteAccessError(
        `Route ${where} is public without a reason; write why anonymous access is acceptable`,
      )
    }
    return 'public'
  }
  throw new RouteAccessError(
    `Route ${where} declares no access policy: set config.policy, or config.public with the reason it is open (default deny, ADR-0002)`,
  )
}

/** The CORS preflight route that @fastify/cors registers: answers OPTIONS only, returns no data. */
function isCorsPreflight(route: RouteOptions): boolean {
  return route.method === 'OPTIONS' && route.url.endsWith('*')
}

/**
 * A refusal that is a security event (segregation of duties, ADR-0012), as the audit trail records
 * it: who asked, from where, for what, in which request. Identifiers only — never a body.
 */
export interface PolicySecurityEvent {
  readonly actorKind: 'user' | 'device' | 'client'
  readonly actorId: string
  readonly clientId: string | null
  readonly ip: string
  readonly userAgent: string | null
  /** The event type, e.g. `segregation-of-duties.refused`. */
  readonly action: string
  readonly resourceType: string
  readonly resourceId: string | null
  readonly patientId: string | null
  readonly outcome: 'denied'
  /** The forbid rule that refused. */
  readonly decisionRule: string
  readonly requestId: string
}

export interface RouteAccessDeps {
  readonly authenticate: Authenticate
  readonly pdp: PolicyDecisionPoint
  /** Records a refusal that is a security event; awaited before the refusal is answered. */
  readonly securityEvent?: (event: PolicySecurityEvent) => Promise<unknown>
}

const scopeDecisionKey = (action: string, patientId: string) => `${action} ${patientId.toLowerCase()}`

/**
 * The permit that let `patientId` into this request's scope for `action` (a list or search), if
 * it was decided there: the audit entry for that patient records these grounds, the ones the
 * answer was actually given on, instead of deciding again (issue 17, goal 5).
 */
export function scopeDecisionOf(
  request: Pick<FastifyRequest, 'scopeDecisions'>,
  action: string,
  patientId: string,
): Decision | undefined {
  return request.scopeDecisions?.get(scopeDecisionKey(action, patientId))
}

export function registerRouteAccess(app: FastifyInstance, deps: RouteAccessDeps): void {
  /** Answers a denial: 404 when concealed, the decision's own problem (segregation of duties) or 403; a security event first when it is one. */
  async function refuse(
    request: FastifyRequest,
    principal: Principal,
    action: string,
    decision: Decision,
    resource: Resource,
  ): Promise<never> {
    if (decision.securityEvent && deps.securityEvent) {
      const ua = request.headers['user-agent']
      await deps
        .securityEvent({
          actorKind: principal.kind,
          actorId: principal.id,
          clientId: principal.clientId ?? null,
          ip: request.ip,
          userAgent: typeof ua === 'string' ? ua.slice(0, 256) : null,
          action: decision.securityEvent,
          resourceType: resource.grant ? 'account' : resource.type,
          resourceId: resource.grant?.userId ?? resource.id ?? null,
          patientId: resource.patientId ?? null,
          // No HTTP status: the request's own entry carries the 403 (so a refusal counts once towards forbidden-burst).
          outcome: 'denied',
          decisionRule: decision.rule,
          requestId: request.id,
        })
        .catch((err: unknown) =>
          request.log.error(
            { err: { message: err instanceof Error ? err.message : String(err) }, rule: decision.rule },
            'security event could not be written',
          ),
        )
    }
    if (decision.problem) throw new AppError(decision.problem, decision.detail)
    throw denial(request, principal, action, decision, resource.interaction)
  }

  app.decorateRequest('principal', null)
  app.decorateRequest('decision', null)
  app.decorateRequest('objectCheckPending', false)
  app.decorateRequest(
    'authorize',
    async function (this: FastifyRequest, action: string, resource: Resource): Promise<Decision> {
      const principal = this.principal
      if (principal === null) throw new AppError('UNAUTHENTICATED')
      resource = { ...resource, interaction: resource.interaction ?? interactionOf(this, action) }
      const decision = await deps.pdp.decide(principal, action, resource, {
        requestId: this.id,
        ip: this.ip,
        now: new Date(),
      })
      this.objectCheckPending = false
      // The request's audit decision is the latest, except that a denial, or a break-glass permit
      // followed by an ordinary one, is kept: the entry must show the denial or the break-glass.
      const prior = this.decision
      const keepPrior =
        prior !== null &&
        (prior.effect === 'deny' ||
          (prior.breakGlass === true && decision.effect === 'permit' && !decision.breakGlass))
      if (!keepPrior) this.decision = decision
      if (decision.effect !== 'permit') await refuse(this, principal, action, decision, resource)
      return decision
    },
  )
  app.decorateRequest(
    'patientScope',
    async function (this: FastifyRequest, action: string, within?: readonly string[]): Promise<PatientScope> {
      const principal = this.principal
      if (principal === null) throw new AppError('UNAUTHENTICATED')
      this.objectCheckPending = false
      if (!deps.pdp.patientScope) return { kind: 'none' }
      const scope = await deps.pdp.patientScope(
        principal,
        action,
        new Date(),
        within,
        interactionOf(this, action),
      )
      if (scope.kind === 'patients' && scope.decisions) {
        this.scopeDecisions ??= new Map()
        for (const [id, d] of scope.decisions) this.scopeDecisions.set(scopeDecisionKey(action, id), d)
      }
      return scope
    },
  )
  app.decorateRequest('scopeDecisions', null)

  app.addHook('onRoute', (route) => {
    if (isCorsPreflight(route)) return
    assertRouteAccess(route)
  })

  // Authentication runs before validation, so an anonymous caller gets 401, not a schema error.
  app.addHook('onRequest', async (request) => {
    const policy = request.routeOptions.config.policy
    if (policy === undefined) return
    const principal = await deps.authenticate(request)
    if (principal === null) {
      throw new AppError('UNAUTHENTICATED', 'This operation needs a bearer access token', {
        headers: { 'www-authenticate': 'Bearer realm="vigil"' },
      })
    }
    request.principal = principal
  })

  // The route's declared policy, after validation, before the handler.
  app.addHook('preHandler', async (request) => {
    const policy = request.routeOptions.config.policy
    if (policy === undefined || request.principal === null) return
    const resource: Resource = {
      type: policy.split('.')[0] ?? policy,
      interaction: interactionOf(request, policy),
    }
    const decision = await deps.pdp.decide(request.principal, policy, resource, {
      requestId: request.id,
      ip: request.ip,
      now: new Date(),
    })
    request.decision = decision
    if (decision.effect !== 'permit') await refuse(request, request.principal, policy, decision, resource)
    // A patient's data: the handler must check each object it touches (request.authorize) or
    // filter by request.patientScope before it may answer 2xx.
    if (categoryOf(policy) !== undefined) request.objectCheckPending = true
  })

  // Fail closed: a patient-data route that answers 2xx without an object-level check is a bug.
  app.addHook('preSerialization', async (request, reply, payload) => {
    if (request.objectCheckPending && reply.statusCode < 400) {
      request.objectCheckPending = false
      request.log.error(
        { route: request.routeOptions.url },
        'patient-data route answered without an object-level authorization check',
      )
      throw new AppError('INTERNAL')
    }
    return payload
  })
}
