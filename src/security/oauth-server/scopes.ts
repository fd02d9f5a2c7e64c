// The scopes Vigil's authorization server knows. OpenID scopes identify the user; API scopes
// name what a token may do at the Vigil API and never widen what the policy decision point allows.

export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const

// admin:clients: client management (the admin API); it narrows an administrator's token, it never
// makes anyone an administrator.
export const API_SCOPES = [
  'account:read',
  'device-data:read',
  'device-data:write',
  'patients:read',
  'patients:write',
  'reports:read',
  'reports:write',
  'consent:manage',
  'devices:manage',
  'audit:read',
  'admin:users',
  'admin:clients',
  // an organisation's event subscriptions (webhooks; ADR-0020)
  'subscriptions:manage',
] as const

export type ApiScope = (typeof API_SCOPES)[number]

/** The FHIR resource types a SMART scope may name (src/fhir serves them; AuditEvent through the auditor module). */
const SMART_TYPES = ['*', 'Patient', 'Observation', 'Device', 'DiagnosticReport', 'AuditEvent', 'Subscription'] as const

/**
 * SMART App Launch scopes for the FHIR resource server: v2 (`patient/Observation.rs`) and their v1
 * equivalents (`patient/Observation.read`) for every context and type, the v2 writes (`.cu`, v1
 * `.write`), and the launch context scopes. They narrow what the policy decision point permits
 * (src/security/policy/scopes.ts); a scope never makes a caller able to do what no rule allows.
 */
export const FHIR_SCOPES = [
  ...(['patient', 'user', 'system'] as const).flatMap((context) => SMART_TYPES.flatMap((type) => [`${context}/${type}.rs`, `${context}/${type}.read`, `${context}/${type}.cu`, `${context}/${type}.write`])),
  'launch/patient',
  'fhirUser',
] as readonly string[]
