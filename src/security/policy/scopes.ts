// Token scopes narrow a decision, never widen it (ADR-0008). An action needs one of its Vigil API
// scopes, or a SMART App Launch scope (v2 `patient/Observation.rs`, v1 `patient/Observation.read`)
// naming its FHIR resource type with the right permission. A `patient/` scope reaches only the
// patient in the token's context; `user/` reaches what the user may; `system/` what the service may.
// Each FHIR interaction needs its own SMART permission (ADR-0032): read (and an operation on an
// instance) `r`, search `s`, create `c`, update `u`, delete `d`. Where no interaction is known (the
// Vigil API), a SMART scope carries an action only with every permission the action covers.

import type { Principal } from '../authn/index.ts'
import { ACTIONS, type ActionMeta } from './rules.ts'

/** A FHIR RESTful interaction, as the SMART v2 permission letter that allows it. */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's'

/**
 * The interaction a FHIR route performs, from its method and its route pattern (`/fhir/R4/Type`,
 * `/fhir/R4/Type/:id`, `/fhir/R4/Type/:id/$op`; `{id}` in OpenAPI form): GET on a type is a search,
 * GET on an instance (or an operation on it) a read, POST on a type a create, PUT/PATCH an update,
 * DELETE a delete. Undefined outside /fhir/, or for a route that is none of these.
 */
export function fhirInteraction(method: string, routeUrl: string): Interaction | undefined {
  const m = /^\/fhir\/R4\/([A-Za-z]+)(\/[^/]+(?:\/.*)?)?$/.exec(routeUrl)
  if (!m) return undefined
  const instance = m[2] !== undefined
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      return instance ? 'r' : 's'
    case 'POST':
      return instance ? undefined : 'c'
    case 'PUT':
    case 'PATCH':
      return instance ? 'u' : undefined
    case 'DELETE':
      return instance ? 'd' : undefined
    default:
      return undefined
  }
}

const SMART = /^(patient|user|system)\/([A-Za-z*]+)\.(read|write|\*|c?r?u?d?s?)(?:\?(.+))?$/

/**
 * Granular scopes (SMART App Launch 2.0 §3.0.2.3, `patient/Observation.rs?category=vital-signs`)
 * are honoured only where the resource's routes enforce their parameters (granularConstraints):
 * on any other type such a scope grants nothing.
 */
const GRANULAR_TYPES = new Set(['Observation'])

export type GranularConstraint = ReadonlyArray<readonly [string, string]>

function queryOf(raw: string | undefined): GranularConstraint | undefined {
  if (raw === undefined) return undefined
  return raw.split('&').map((pair) => {
    const eq = pair.indexOf('=')
    let value: string
    try {
      value = decodeURIComponent(pair.slice(eq + 1))
    } catch {
      value = '\u0000' // undecodable: matches no stored value
    }
    return [pair.slice(0, eq), value] as const
  })
}

function permissionsOf(p: string): Set<string> {
  if (p === 'read') return new Set(['r', 's'])
  if (p === 'write') return new Set(['c', 'u', 'd'])
  if (p === '*') return new Set(['c', 'r', 'u', 'd', 's'])
  return new Set(p.split(''))
}

/** Does one of the token's scopes allow this action, on this patient's data (when one is named)? */
export function scopePermits(
  principal: Pick<Principal, 'scopes' | 'patientId' | 'launchPatientId' | 'kind'>,
  action: string,
  patientId?: string,
  interaction?: Interaction,
): boolean {
  return grantsOf(principal, action, patientId, interaction).length > 0
}

/**
 * For a caller whose only scopes for this action are granular: the constraints a resource must
 * meet (any one of them, every pair of it). Undefined when some scope grants the action whole.
 */
export function granularConstraints(
  principal: Pick<Principal, 'scopes' | 'patientId' | 'launchPatientId' | 'kind'>,
  action: string,
  interaction?: Interaction,
): GranularConstraint[] | undefined {
  const grants = grantsOf(principal, action, undefined, interaction)
  if (grants.length === 0 || grants.some((g) => g === 'whole')) return undefined
  return grants.filter((g): g is GranularConstraint => g !== 'whole')
}

/** Each scope permitting the action (for this interaction, when known): 'whole', or the constraint of a granular scope. */
function grantsOf(
  principal: Pick<Principal, 'scopes' | 'patientId' | 'launchPatientId' | 'kind'>,
  action: string,
  patientId?: string,
  interaction?: Interaction,
): Array<'whole' | GranularConstraint> {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta) return []
  const out: Array<'whole' | GranularConstraint> = []
  if (meta.scopes.some((s) => principal.scopes.includes(s))) out.push('whole')
  const fhir = meta.fhir
  if (!fhir) return out
  // The permission this interaction needs; without one, every permission the action covers.
  const needed: readonly string[] = interaction !== undefined ? [interaction] : fhir.needs
  for (const scope of principal.scopes) {
    const m = SMART.exec(scope)
    if (!m) continue
    const [, context, type, perms, rawQuery] = m as unknown as [
      string,
      string,
      string,
      string,
      string | undefined,
    ]
    if (type !== '*' && type !== fhir.type) continue
    if (rawQuery !== undefined && (type === '*' || !GRANULAR_TYPES.has(type))) continue
    const granted = permissionsOf(perms)
    if (!needed.every((n) => granted.has(n))) continue
    if (context === 'patient') {
      // Only the patient in the token's context, and only for patient-scoped actions.
      const context = principal.launchPatientId ?? principal.patientId
      if (!context || (patientId !== undefined && patientId !== context)) continue
    }
    if (context === 'system' && principal.kind !== 'client') continue
    if (context === 'user' && principal.kind !== 'user') continue
    out.push(queryOf(rawQuery) ?? 'whole')
  }
  return out
}

/**
 * The scope(s) a caller lacking one should ask for, for RFC 6750 §3.1 `insufficient_scope`: any
 * one of them carries the action. On the FHIR API, the SMART v2 scope for the caller's context.
 */
export function requiredScopes(
  principal: Pick<Principal, 'kind' | 'launchPatientId' | 'roles'>,
  action: string,
  fhirApi: boolean,
  interaction?: Interaction,
): string[] {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta) return []
  if (fhirApi && meta.fhir) {
    const context =
      principal.kind === 'client'
        ? 'system'
        : principal.launchPatientId || principal.roles.includes('patient')
          ? 'patient'
          : 'user'
    const perms =
      interaction ?? ['c', 'r', 'u', 'd', 's'].filter((p) => meta.fhir?.needs.includes(p)).join('')
    return [`${context}/${meta.fhir.type}.${perms}`]
  }
  return [...meta.scopes]
}

/** For the OpenAPI document: the scopes any one of which carries `action` (SMART v2 ones on the FHIR API). */
export function scopesForOperation(action: string, fhirApi: boolean, interaction?: Interaction): string[] {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta) return []
  if (fhirApi && meta.fhir) {
    const perms =
      interaction ?? ['c', 'r', 'u', 'd', 's'].filter((p) => meta.fhir?.needs.includes(p)).join('')
    return ['patient', 'user', 'system'].map((c) => `${c}/${meta.fhir?.type}.${perms}`)
  }
  return [...meta.scopes]
}
