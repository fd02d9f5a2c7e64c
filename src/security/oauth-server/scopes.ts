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
] as const

export type ApiScope = (typeof API_SCOPES)[number]

/** SMART App Launch v2 scopes for the FHIR resource server (enforced when the FHIR API lands). */
export const FHIR_SCOPES = ['patient/*.rs', 'user/*.rs', 'system/*.rs', 'launch/patient', 'fhirUser'] as const
