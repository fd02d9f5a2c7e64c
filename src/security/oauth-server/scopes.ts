// The scopes Vigil's authorization server knows. OpenID scopes identify the user; API scopes
// name what a token may do at the Vigil API and never widen what the policy decision point allows.

export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const

// admin:clients: client management (the admin API); it narrows an administrator's token, it never
// makes anyone an administrator.
export const API_SCOPES = [
  'account:read',
  'device-data:read',
  'device-data:write',
  // a care team's per-patient target ranges (ADR-0027): never a reading
  'target-ranges:write',
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

/** The FHIR resource types a SMART scope may name (src/modules/fhir serves them; AuditEvent through the auditor module). */
export const SMART_TYPES = [
  '*',
  'Patient',
  'Practitioner',
  'Observation',
  'Device',
  'DiagnosticReport',
  'AuditEvent',
  'Subscription',
] as const

/** SMART App Launch context scopes (§ scopes for requesting context data, identity data and refresh tokens). */
export const SMART_CONTEXT_SCOPES = ['launch', 'launch/patient', 'fhirUser', 'online_access'] as const

/**
 * SMART App Launch scopes for the FHIR resource server: v2 (`patient/Observation.rs`) and their v1
 * equivalents (`patient/Observation.read`) for every context and type, the v2 writes (`.cu`, v1
 * `.write`), and the launch context scopes. They narrow what the policy decision point permits
 * (src/security/policy/scopes.ts); a scope never makes a caller able to do what no rule allows.
 * v1 scopes are registered so old clients' metadata stays valid; a request's v1 scope is mapped
 * to its v2 form before it is checked (normalizeScopes).
 */
export const FHIR_SCOPES = [
  ...(['patient', 'user', 'system'] as const).flatMap((context) =>
    SMART_TYPES.flatMap((type) => [
      `${context}/${type}.rs`,
      `${context}/${type}.read`,
      `${context}/${type}.cu`,
      `${context}/${type}.write`,
    ]),
  ),
  ...SMART_CONTEXT_SCOPES,
] as readonly string[]

/**
 * What the SMART configuration's `scopes_supported` advertises: exactly the scopes a client can
 * be granted and then use on /fhir/R4 (issue 13: discovery lists what works, nothing more; each
 * one is obtained and used by test/e2e/smart-discovery-behaviour.test.ts, which reads this list
 * from the document). Reads (`.rs`, v1 `.read`) where a caller of that context may read the type;
 * writes (`.cu`, `.c`, `.cd`: the letters of the type's write interactions, SMART_WRITES) only
 * where /fhir/R4 has a write that caller may make. Not advertised, though a
 * client may still be registered for them: v1 `.write` (it maps to `.cud`, which no resource
 * server scope carries, so the token gets nothing), patient/system AuditEvent (only auditors read
 * the trail), system Practitioner, and writes of types with no FHIR write (Observation, Device,
 * Practitioner, AuditEvent) or that the context may not make (a patient's Patient and
 * DiagnosticReport, a service's Patient update and DiagnosticReport).
 */
const SMART_USES: Record<
  'patient' | 'user' | 'system',
  { read: readonly string[]; write: readonly string[] }
> = {
  patient: {
    read: ['*', 'Patient', 'Practitioner', 'Observation', 'Device', 'DiagnosticReport', 'Subscription'],
    write: ['Subscription'],
  },
  user: { read: SMART_TYPES, write: ['*', 'Patient', 'DiagnosticReport', 'Subscription'] },
  system: {
    read: ['*', 'Patient', 'Observation', 'Device', 'DiagnosticReport', 'Subscription'],
    write: ['Subscription'],
  },
}

/**
 * The write permissions each type's FHIR interactions use (ADR-0032: a scope must carry the
 * interaction's own letter): Patient is created and updated, a DiagnosticReport created, a
 * Subscription created and deleted (it has no update). Discovery advertises exactly these, so an
 * app asking for what discovery lists gets every write it can make and no letter that opens nothing.
 */
const SMART_WRITES: Record<string, string> = {
  '*': 'cud',
  Patient: 'cu',
  DiagnosticReport: 'c',
  Subscription: 'cd',
}

export const SMART_SCOPES_SUPPORTED: readonly string[] = [
  'openid',
  'offline_access',
  ...(['patient', 'user', 'system'] as const).flatMap((context) => [
    ...SMART_USES[context].read.flatMap((type) => [`${context}/${type}.rs`, `${context}/${type}.read`]),
    ...SMART_USES[context].write.map((type) => `${context}/${type}.${SMART_WRITES[type]}`),
  ]),
  ...SMART_CONTEXT_SCOPES,
]

/** Every scope registered with oidc-provider (a client's `scope` metadata may name only these). */
export const STATIC_SCOPES: readonly string[] = [...OIDC_SCOPES, ...API_SCOPES, ...FHIR_SCOPES]
const STATIC = new Set(STATIC_SCOPES)

export interface SmartScope {
  readonly context: 'patient' | 'user' | 'system'
  readonly type: string
  /** v2 permissions, a subset of c r u d s (v1 read → r s, write → c u d, * → c r u d s). */
  readonly permissions: ReadonlySet<string>
  /** The v2 permission string in canonical order (`rs`, `cud`, `cruds`). */
  readonly v2: string
  /** Granular scope (SMART v2 §3.0.2.3): search parameters that every resource reached must match. */
  readonly query?: ReadonlyArray<readonly [string, string]>
  readonly v1: boolean
}

const SMART_SCOPE =
  /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|write|\*|c?r?u?d?s?)(\?([A-Za-z0-9_.:|,=&%/-]+))?$/
const ORDER = ['c', 'r', 'u', 'd', 's'] as const

/** A SMART resource scope, or undefined when the string is not one (unknown type, malformed suffix). */
export function parseSmartScope(scope: string): SmartScope | undefined {
  const m = SMART_SCOPE.exec(scope)
  if (!m) return undefined
  const [, context, type, perms, , rawQuery] = m as unknown as [
    string,
    SmartScope['context'],
    string,
    string,
    string | undefined,
    string | undefined,
  ]
  if (!(SMART_TYPES as readonly string[]).includes(type)) return undefined
  if (perms === '') return undefined
  const v1 = perms === 'read' || perms === 'write' || perms === '*'
  const permissions = new Set<string>(
    perms === 'read'
      ? ['r', 's']
      : perms === 'write'
        ? ['c', 'u', 'd']
        : perms === '*'
          ? ORDER
          : perms.split(''),
  )
  let query: Array<[string, string]> | undefined
  if (rawQuery !== undefined) {
    // Granular scopes are v2 only, on one resource type (not `*`), with name=value pairs.
    if (v1 || type === '*') return undefined
    query = []
    for (const pair of rawQuery.split('&')) {
      const eq = pair.indexOf('=')
      if (eq <= 0 || eq === pair.length - 1) return undefined
      let value: string
      try {
        value = decodeURIComponent(pair.slice(eq + 1))
      } catch {
        return undefined
      }
      query.push([pair.slice(0, eq), value])
    }
  }
  const v2 = ORDER.filter((p) => permissions.has(p)).join('')
  return { context, type, permissions, v2, v1, ...(query ? { query } : {}) }
}

/** The v2 form of a scope (SMART App Launch 2.0 §3.0.2.1 maps v1 `.read`/`.write`/`.*`); others unchanged. */
export function normalizeScope(scope: string): string {
  const parsed = parseSmartScope(scope)
  if (!parsed || !parsed.v1) return scope
  return `${parsed.context}/${parsed.type}.${parsed.v2}`
}

export function normalizeScopes(scope: string): string {
  return [...new Set(scope.split(' ').filter(Boolean).map(normalizeScope))].join(' ')
}

/** A scope this server knows: a registered scope, or a SMART resource scope (granular ones included). */
export function isKnownScope(scope: string): boolean {
  return STATIC.has(scope) || parseSmartScope(scope) !== undefined
}

/**
 * May a client whose registered scopes are `registered` be granted `scope`? A registered scope
 * allows itself; a SMART resource scope is also allowed when a registered SMART scope of the same
 * context covers its type and permissions (`patient/*.rs` allows `patient/Observation.rs` and
 * `patient/Observation.rs?category=vital-signs`), since the narrower one reaches less.
 */
export function scopeAllowed(registered: readonly string[], scope: string): boolean {
  if (registered.includes(scope)) return true
  const wanted = parseSmartScope(scope)
  if (!wanted) return false
  return registered.some((r) => {
    const have = parseSmartScope(r)
    if (!have || have.query || have.context !== wanted.context) return false
    if (have.type !== '*' && have.type !== wanted.type) return false
    return [...wanted.permissions].every((p) => have.permissions.has(p))
  })
}

/** The first scope of `requested` that is unknown, or not allowed to a client registered with `registered`. */
export function firstRefusedScope(
  registered: readonly string[],
  requested: readonly string[],
): { scope: string; reason: 'unknown' | 'not-allowed' } | undefined {
  for (const scope of requested) {
    if (!isKnownScope(scope)) return { scope, reason: 'unknown' }
    if (!scopeAllowed(registered.map(normalizeScope), scope)) return { scope, reason: 'not-allowed' }
  }
  return undefined
}

/** RFC 6749 §3.3: the scopes a request without `scope` gets — the client's `default_scope`, else all it is registered for. */
export function defaultScopeOf(metadata: { scope?: string | undefined; default_scope?: unknown }): string {
  const explicit = typeof metadata.default_scope === 'string' ? metadata.default_scope : undefined
  return (explicit ?? metadata.scope ?? '').split(' ').filter(Boolean).join(' ')
}

const API_SCOPE_TEXT: Record<string, string> = {
  'account:read': 'Read the caller (GET /api/v2/me)',
  'device-data:read': 'Read device readings the policy lets the caller see',
  'device-data:write': 'Send device readings (devices; patients for themselves)',
  'patients:read': 'Read patient records the policy lets the caller see',
  'patients:write': 'Change patient records (care team)',
  'reports:read': 'Read diagnostic reports',
  'reports:write': 'Write diagnostic reports (clinicians)',
  'consent:manage': 'A patient grants and revokes consents',
  'devices:manage': 'Register, bind and unbind devices',
  'audit:read': 'Read the audit trail (auditors)',
  'admin:users': 'Administer organisations, users, care teams (administrators)',
  'admin:clients': 'Manage OAuth clients (administrators)',
  openid: 'OpenID Connect sign-in (ID token); also reads the caller',
  offline_access: 'A refresh token that outlives the session',
  profile: "The user's name in the ID token",
  email: "The user's email in the ID token",
  fhirUser: "SMART: the user's FHIR resource (Patient or Practitioner) in the ID token",
  launch: 'SMART EHR launch: the launch context (with the launch parameter)',
  'launch/patient': "SMART standalone launch: the patient context (the user's own record)",
  online_access: "SMART: a refresh token that ends with the user's session",
}

/** Every scope with what it opens, for the OpenAPI oauth2 scheme and the README. */
export function scopeDescriptions(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const scope of [...OIDC_SCOPES, ...API_SCOPES, ...SMART_CONTEXT_SCOPES])
    out[scope] = API_SCOPE_TEXT[scope] ?? scope
  for (const context of ['patient', 'user', 'system'] as const) {
    for (const type of SMART_TYPES) {
      const what = type === '*' ? 'every FHIR resource type' : type
      const who =
        context === 'patient'
          ? 'of the launch patient'
          : context === 'user'
            ? 'the user may see'
            : "of the service's organisation"
      out[`${context}/${type}.rs`] = `SMART: read and search ${what} ${who}`
      out[`${context}/${type}.cu`] = `SMART: create and update ${what} ${who} (where the policy allows)`
      out[`${context}/${type}.c`] = `SMART: create ${what} ${who} (where the policy allows)`
      out[`${context}/${type}.r`] = `SMART: read ${what} ${who} by id (not search)`
      out[`${context}/${type}.s`] = `SMART: search ${what} ${who} (not read by id)`
      out[`${context}/${type}.u`] = `SMART: update ${what} ${who} (where the policy allows)`
      out[`${context}/${type}.d`] = `SMART: delete ${what} ${who} (where the policy allows)`
      out[`${context}/${type}.cd`] = `SMART: create and delete ${what} ${who} (where the policy allows)`
      out[`${context}/${type}.cud`] =
        `SMART: create, update and delete ${what} ${who} (where the policy allows)`
      if (type === 'Subscription')
        out[`${context}/Subscription.crd`] =
          `SMART: create, read and delete the caller's FHIR Subscriptions (rest-hook); each notification is decided per patient ${who} at delivery`
    }
  }
  return out
}
