// The policy, as data in one reviewed place (ADR-0008). Every action the API can take is listed in
// ACTIONS with the scopes that may carry it; every rule permits — anything no rule permits is
// denied (default deny). A rule has two halves:
//   who    — a coarse test on the principal alone, checked at the route before the handler;
//   object — for actions on a patient's data, the test on that patient's facts (care team,
//            consent, break-glass, own record, bound device), checked for every object touched.
// Rules are pure functions of (principal, resource, facts, now): unit-tested one by one.

import type { Principal } from '../authn/index.ts'
import type { AccessGrant, ConsentFact, GranteeFacts, PatientFacts, Resource } from './decision.ts'

export interface ActionMeta {
  /** Vigil API scopes, any one of which carries the action. */
  readonly scopes: readonly string[]
  /** The consent category of a patient-scoped action; absent → not patient data. */
  readonly category?: 'device-data' | 'demographics' | 'reports' | 'devices'
  readonly access?: 'read' | 'write'
  /** The SMART resource type and permissions (c r u d s) that also carry it. */
  readonly fhir?: { readonly type: string; readonly needs: readonly string[] }
}

export const ACTIONS = {
  'account.read': { scopes: ['account:read', 'openid'] },
  'clients.manage': { scopes: ['admin:clients'] },
  'organisations.manage': { scopes: ['admin:users'] },
  'users.manage': { scopes: ['admin:users'] },
  /** Giving an account a role, or a place in a care team (decided with the grant and the grantee's roles; ADR-0012). */
  'access.grant': { scopes: ['admin:users'] },
  'care-team.manage': { scopes: ['admin:users'] },
  'devices.manage': { scopes: ['devices:manage', 'admin:users'] },
  'patients.manage': { scopes: ['admin:users'], fhir: { type: 'Patient', needs: ['c'] } },
  'consent.manage': { scopes: ['consent:manage'] },
  'break-glass.open': { scopes: ['patients:read', 'device-data:read'] },
  'break-glass.review': { scopes: ['admin:users'] },
  // A patient's own accounting of disclosures (issue 15): who read or changed their data, from the trail.
  'access-report.read': { scopes: ['account:read', 'consent:manage'] },
  'audit.read': { scopes: ['audit:read'], fhir: { type: 'AuditEvent', needs: ['r', 's'] } },
  'security-events.read': { scopes: ['admin:users', 'audit:read'] },
  'security-events.manage': { scopes: ['admin:users'] },
  'patients.read': {
    scopes: ['patients:read'],
    category: 'demographics',
    access: 'read',
    fhir: { type: 'Patient', needs: ['r', 's'] },
  },
  'patients.write': {
    scopes: ['patients:write'],
    category: 'demographics',
    access: 'write',
    fhir: { type: 'Patient', needs: ['c', 'u'] },
  },
  'device-data.read': {
    scopes: ['device-data:read'],
    category: 'device-data',
    access: 'read',
    fhir: { type: 'Observation', needs: ['r', 's'] },
  },
  'device-data.write': {
    scopes: ['device-data:write'],
    category: 'device-data',
    access: 'write',
    fhir: { type: 'Observation', needs: ['c', 'u'] },
  },
  'devices.read': {
    scopes: ['device-data:read', 'devices:manage'],
    category: 'devices',
    access: 'read',
    fhir: { type: 'Device', needs: ['r', 's'] },
  },
  'devices.bind': { scopes: ['devices:manage', 'device-data:write'], category: 'devices', access: 'write' },
  // A patient unpairs a device from their own record (issue 15; ADR-0027): the device's next post is refused.
  'devices.unpair': { scopes: ['devices:manage', 'device-data:write'], category: 'devices', access: 'write' },
  // A patient's target range per measurement, set by the care team (issue 15; ADR-0027); read with the readings.
  'target-ranges.write': {
    scopes: ['target-ranges:write', 'patients:write'],
    category: 'device-data',
    access: 'write',
  },
  'reports.read': {
    scopes: ['reports:read'],
    category: 'reports',
    access: 'read',
    fhir: { type: 'DiagnosticReport', needs: ['r', 's'] },
  },
  'reports.write': {
    scopes: ['reports:write'],
    category: 'reports',
    access: 'write',
    fhir: { type: 'DiagnosticReport', needs: ['c', 'u'] },
  },
  // A clinician as a FHIR Practitioner (the fhirUser of staff); who sees whom is checked in the handler.
  'practitioners.read': { scopes: ['fhirUser'], fhir: { type: 'Practitioner', needs: ['r'] } },
  // Event subscriptions (webhooks) of an organisation, and their deliveries (ADR-0020).
  'subscriptions.manage': { scopes: ['admin:users', 'subscriptions:manage'] },
  // FHIR Subscriptions (rest-hook) under SMART scopes; every notification is decided per patient at delivery (ADR-0021).
  'fhir-subscriptions.manage': {
    scopes: ['subscriptions:manage'],
    fhir: { type: 'Subscription', needs: ['c', 'r', 'd'] },
  },
} as const satisfies Record<string, ActionMeta>

export type Action = keyof typeof ACTIONS

export function categoryOf(action: string): ActionMeta['category'] {
  return (ACTIONS as Record<string, ActionMeta>)[action]?.category
}

export type ObjectVerdict = boolean | { readonly consentId?: string; readonly breakGlassId?: string }

export interface Rule {
  readonly id: string
  readonly actions: readonly Action[]
  readonly who: (p: Principal) => boolean
  /** Required for patient-scoped actions; for administrative ones, an optional check of resource.organisationId. */
  readonly object?: (p: Principal, r: Resource, f: PatientFacts, now: Date, action: Action) => ObjectVerdict
}

const holds = (p: Principal, role: string) => p.kind === 'user' && p.roles.includes(role)
const orgsWith = (p: Principal, role: string) =>
  (p.memberships ?? [])
    .filter((m) => m.role === role && m.organisationId !== null)
    .map((m) => m.organisationId as string)

const CLINICAL_READ: Action[] = ['patients.read', 'device-data.read', 'devices.read', 'reports.read']
const CLINICAL_WRITE: Action[] = ['patients.write', 'device-data.write', 'reports.write']

function consentCovers(c: ConsentFact, action: string, now: Date): boolean {
  const meta = (ACTIONS as Record<string, ActionMeta>)[action]
  if (!meta?.category) return false
  if (c.expiresAt.getTime() <= now.getTime()) return false
  if (!c.categories.includes(meta.category) && !c.categories.includes('*')) return false
  return meta.access === 'read' || c.access === 'read-write'
}

function byConsent(
  action: string,
  f: PatientFacts,
  now: Date,
  grantee: (c: ConsentFact) => boolean,
): ObjectVerdict {
  const consent = f.consents.find((c) => grantee(c) && consentCovers(c, action, now))
  return consent ? { consentId: consent.id } : false
}

export const RULES: readonly Rule[] = [
  { id: 'self.read-own-identity', actions: ['account.read'], who: () => true },

  // Platform administration. `admin` exists only as a global role (user_roles_scope check), so
  // holding it means holding it platform-wide. Administrators manage; they do not read PHI.
  { id: 'admin.manage-clients', actions: ['clients.manage'], who: (p) => holds(p, 'admin') },
  {
    id: 'admin.manage-platform',
    actions: [
      'organisations.manage',
      'users.manage',
      'access.grant',
      'care-team.manage',
      'devices.manage',
      'patients.manage',
      'break-glass.review',
    ],
    who: (p) => holds(p, 'admin'),
  },
  {
    id: 'admin.security-events',
    actions: ['security-events.read'],
    who: (p) => holds(p, 'admin') || holds(p, 'auditor'),
  },
  { id: 'admin.manage-security-events', actions: ['security-events.manage'], who: (p) => holds(p, 'admin') },
  {
    // An organisation's administrator, within that organisation only.
    id: 'org-admin.manage-own-organisation',
    actions: ['users.manage', 'access.grant', 'care-team.manage', 'devices.manage', 'patients.manage'],
    who: (p) => holds(p, 'org-admin'),
    object: (p, r, f) => {
      const org =
        r.organisationId !== undefined
          ? r.organisationId
          : r.patientId !== undefined
            ? f.organisationId
            : undefined
      return org !== undefined && org !== null && orgsWith(p, 'org-admin').includes(org)
    },
  },
  { id: 'auditor.read-trail', actions: ['audit.read'], who: (p) => holds(p, 'auditor') },
  // Patients and clinicians resolve a clinician's fhirUser; which one they see is checked in the handler.
  {
    id: 'user.read-practitioners',
    actions: ['practitioners.read'],
    who: (p) => holds(p, 'clinician') || holds(p, 'patient'),
  },
  // A patient reads who accessed their own record (the handler reads only the caller's own patient id).
  {
    id: 'patient.own-access-report',
    actions: ['access-report.read'],
    who: (p) => holds(p, 'patient'),
    object: (p, r) => p.patientId !== null && p.patientId !== undefined && r.patientId === p.patientId,
  },

  // A patient and their own record: read everything, manage their consents, pair and unpair their devices.
  {
    id: 'patient.own-record',
    actions: [...CLINICAL_READ, 'consent.manage', 'devices.bind', 'devices.unpair'],
    // The patient role, not merely a patientId: a clinician's SMART launch context also fills
    // patientId, and a launch context narrows what a token reaches — it never makes its bearer the patient.
    who: (p) => holds(p, 'patient'),
    object: (p, r) => p.patientId !== null && p.patientId !== undefined && r.patientId === p.patientId,
  },
  // A device writes readings only for the patient it is bound to now.
  {
    id: 'device.bound-patient',
    actions: ['device-data.write'],
    who: (p) => p.kind === 'device',
    object: (p, r) => p.patientId !== null && p.patientId !== undefined && r.patientId === p.patientId,
  },

  // Clinicians: their care team's patients, read and write.
  {
    id: 'clinician.care-team',
    actions: [...CLINICAL_READ, ...CLINICAL_WRITE],
    who: (p) => holds(p, 'clinician'),
    object: (_p, _r, f) => f.careTeam,
  },
  // A patient's target ranges are a clinical decision of their care team only: not a consent's
  // grantee, not break-glass (an emergency reads; it does not re-prescribe), not the patient (ADR-0027).
  {
    id: 'clinician.care-team-target-ranges',
    actions: ['target-ranges.write'],
    who: (p) => holds(p, 'clinician'),
    object: (_p, _r, f) => f.careTeam,
  },
  // Any consent the patient gave this user (a clinician outside the team, or a caregiver), for the category and access asked.
  {
    id: 'consent.user',
    actions: [...CLINICAL_READ, ...CLINICAL_WRITE],
    who: (p) => holds(p, 'clinician') || holds(p, 'caregiver'),
    object: (p, _r, f, now, action) =>
      byConsent(action, f, now, (c) => c.granteeKind === 'user' && c.granteeId === p.id),
  },
  // A consent to an organisation reaches its clinicians.
  {
    id: 'consent.organisation',
    actions: [...CLINICAL_READ, ...CLINICAL_WRITE],
    who: (p) => holds(p, 'clinician'),
    object: (p, _r, f, now, action) =>
      byConsent(
        action,
        f,
        now,
        (c) => c.granteeKind === 'organisation' && orgsWith(p, 'clinician').includes(c.granteeId),
      ),
  },
  // Emergency access: an open break-glass session (at most 60 minutes), marked in every entry.
  {
    id: 'clinician.break-glass',
    actions: [...CLINICAL_READ, ...CLINICAL_WRITE],
    who: (p) => holds(p, 'clinician'),
    object: (_p, _r, f, now) =>
      f.breakGlass && f.breakGlass.expiresAt.getTime() > now.getTime()
        ? { breakGlassId: f.breakGlass.id }
        : false,
  },
  // Break-glass stays within the organisations where the caller is a clinician (SRS §Product contract; ADR-0012):
  // any other patient is concealed, exactly like one that does not exist.
  {
    id: 'clinician.open-break-glass',
    actions: ['break-glass.open'],
    who: (p) => holds(p, 'clinician'),
    object: (p, _r, f) => f.organisationId !== null && orgsWith(p, 'clinician').includes(f.organisationId),
  },

  // Event subscriptions (ADR-0020): an organisation's administrator, or its backend service,
  // manages the organisation's webhooks.
  {
    id: 'org-admin.subscriptions',
    actions: ['subscriptions.manage'],
    who: (p) => holds(p, 'org-admin'),
    object: (p, r) =>
      r.organisationId !== undefined &&
      r.organisationId !== null &&
      orgsWith(p, 'org-admin').includes(r.organisationId),
  },
  {
    id: 'service.subscriptions',
    actions: ['subscriptions.manage'],
    who: (p) => p.kind === 'client' && (p.organisationId ?? null) !== null,
    object: (p, r) =>
      r.organisationId !== undefined && r.organisationId !== null && r.organisationId === p.organisationId,
  },
  // Anyone who reads patients' data may subscribe to what they may read; the topic's read action
  // is decided for the filtered patient at creation and again for every notification (ADR-0021).
  {
    id: 'subscriber.own-fhir-subscriptions',
    actions: ['fhir-subscriptions.manage'],
    who: (p) =>
      holds(p, 'patient') ||
      holds(p, 'clinician') ||
      holds(p, 'caregiver') ||
      (p.kind === 'client' && (p.organisationId ?? null) !== null),
  },
  // A consent a patient gave an organisation reaches its backend services too, for reading —
  // its integrations, such as a webhook receiving the patient's readings (ADR-0020).
  {
    id: 'service.organisation-consent',
    actions: CLINICAL_READ,
    who: (p) => p.kind === 'client' && (p.organisationId ?? null) !== null,
    object: (p, _r, f, now, action) =>
      byConsent(action, f, now, (c) => c.granteeKind === 'organisation' && c.granteeId === p.organisationId),
  },

  // A backend service reads the patients of its own organisation (SMART system/*.rs).
  {
    id: 'service.own-organisation',
    actions: CLINICAL_READ,
    who: (p) => p.kind === 'client' && (p.organisationId ?? null) !== null,
    object: (p, _r, f) => f.organisationId !== null && f.organisationId === p.organisationId,
  },
]

// ---- Segregation of duties (ADR-0012) ----------------------------------------------------------
// Forbid rules override any permit (as Cedar's `forbid` does): evaluated only once a rule has
// permitted, so a caller who could not have acted anyway gets the usual answer (403, or a
// concealed 404), and a refusal here always means "you could, but not this". Each is a security
// event, written to the audit trail on its own.

/** Roles that administer (users, care teams, devices, records) and never read health data. */
export const ADMINISTRATIVE_ROLES: readonly string[] = ['admin', 'org-admin']
/** Roles through which the rules above reach other people's health data (with a care team, a consent or break-glass). */
export const PHI_ROLES: readonly string[] = ['clinician', 'caregiver']

export interface Forbid {
  readonly id: string
  readonly actions: readonly Action[]
  readonly problem: 'SEGREGATION_OF_DUTIES'
  /** For the caller: what is refused and what to do instead. */
  readonly detail: string
  /** `permittedBy` is the rule that permitted (a forbid overrides it, or not, knowing why access was given). */
  readonly when: (p: Principal, r: Resource, grantee: GranteeFacts, permittedBy: string) => boolean
}

const opensPhi = (g: AccessGrant | undefined) =>
  g !== undefined && (g.kind === 'care-team' || PHI_ROLES.includes(g.role))
const administers = (g: AccessGrant | undefined) =>
  g !== undefined && g.kind === 'role' && ADMINISTRATIVE_ROLES.includes(g.role)
const anyOf = (held: readonly string[], roles: readonly string[]) => held.some((r) => roles.includes(r))

export const FORBIDS: readonly Forbid[] = [
  {
    id: 'sod.self-grant',
    actions: ['access.grant'],
    problem: 'SEGREGATION_OF_DUTIES',
    detail: 'No one grants themselves a role or a place in a care team; another administrator must',
    when: (p, r) => p.kind === 'user' && r.grant !== undefined && r.grant.userId === p.id,
  },
  {
    id: 'sod.health-data-to-administrator',
    actions: ['access.grant'],
    problem: 'SEGREGATION_OF_DUTIES',
    detail:
      'An account that holds an administrative role is never given access to health data (a clinician or caregiver role, a care team); the person uses a separate account for care',
    when: (_p, r, g) => opensPhi(r.grant) && anyOf(g.roles, ADMINISTRATIVE_ROLES),
  },
  {
    id: 'sod.administration-to-health-data-account',
    actions: ['access.grant'],
    problem: 'SEGREGATION_OF_DUTIES',
    detail:
      'An account that reaches health data (a clinician or caregiver) is never given an administrative role; the person uses a separate account to administer',
    when: (_p, r, g) => administers(r.grant) && anyOf(g.roles, PHI_ROLES),
  },
  {
    // "Administrators manage; they do not read PHI" (ADR-0008), whatever else the account holds:
    // an account given both roles before this rule (by SQL, a seed) reaches no one's health data
    // until one role is taken away. Its owner's own record stays theirs.
    id: 'sod.administrator-reads-health-data',
    actions: [...CLINICAL_READ, ...CLINICAL_WRITE, 'target-ranges.write'],
    problem: 'SEGREGATION_OF_DUTIES',
    detail:
      "An account that holds an administrative role does not reach other people's health data; the person uses their clinician or caregiver account",
    when: (p, _r, _g, permittedBy) =>
      p.kind === 'user' && anyOf(p.roles, ADMINISTRATIVE_ROLES) && permittedBy !== 'patient.own-record',
  },
  {
    id: 'sod.break-glass-by-administrator',
    actions: ['break-glass.open'],
    problem: 'SEGREGATION_OF_DUTIES',
    detail:
      'An account that holds an administrative role does not open break-glass access; the person uses their clinician account',
    when: (p) => p.kind === 'user' && anyOf(p.roles, ADMINISTRATIVE_ROLES),
  },
]
