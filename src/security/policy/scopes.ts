// Token scopes narrow a decision, never widen it (ADR-0008). An action needs one of its Vigil API
// scopes, or a SMART App Launch scope (v2 `patient/Observation.rs`, v1 `patient/Observation.read`)
// naming its FHIR resource type with the right permission. A `patient/` scope reaches only the
// patient in the token's context; `user/` reaches what the user may; `system/` what the service may.

import type { Principal } from '../authn/index.ts'
import { ACTIONS, type ActionMeta } from './rules.ts'

const SMART = /^(patient|user|system)\/([A-Za-z*]+)\.(read|write|\*|c?r?u?d?s?)$/

function permissionsOf(p: string): Set<string> {
  if (p === 'read') return new Set(['r', 's'])
  if (p === 'write') return new Set(['c', 'u', 'd'])
  if (p === '*') return new Set(['c', 'r', 'u', 'd', 's'])
  return new Set(p.split(''))
}

/** Does one of the token's scopes allow this action, on this patient's data (when one is named)? */
export function scopePermits(principal: Pick<Principal, 'scopes' | 'patientId' | 'launchPatientId' | 'kind'>, action: string, patientId?: string): boolean {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta) return false
  if (meta.scopes.some((s) => principal.scopes.includes(s))) return true
  const fhir = meta.fhir
  if (!fhir) return false
  for (const scope of principal.scopes) {
    const m = SMART.exec(scope)
    if (!m) continue
    const [, context, type, perms] = m as unknown as [string, string, string, string]
    if (type !== '*' && type !== fhir.type) continue
    const granted = permissionsOf(perms)
    if (!fhir.needs.some((n) => granted.has(n))) continue
    if (context === 'patient') {
      // Only the patient in the token's context, and only for patient-scoped actions.
      const context = principal.launchPatientId ?? principal.patientId
      if (!context || (patientId !== undefined && patientId !== context)) continue
    }
    if (context === 'system' && principal.kind !== 'client') continue
    if (context === 'user' && principal.kind !== 'user') continue
    return true
  }
  return false
}

/**
 * The scope(s) a caller lacking one should ask for, for RFC 6750 §3.1 `insufficient_scope`: any
 * one of them carries the action. On the FHIR API, the SMART v2 scope for the caller's context.
 */
export function requiredScopes(principal: Pick<Principal, 'kind' | 'launchPatientId' | 'roles'>, action: string, fhirApi: boolean): string[] {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta) return []
  if (fhirApi && meta.fhir) {
    const context = principal.kind === 'client' ? 'system' : principal.launchPatientId || principal.roles.includes('patient') ? 'patient' : 'user'
    const perms = ['c', 'r', 'u', 'd', 's'].filter((p) => meta.fhir?.needs.includes(p)).join('')
    return [`${context}/${meta.fhir.type}.${perms}`]
  }
  return [...meta.scopes]
}
