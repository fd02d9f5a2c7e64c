// The rows of the authorization matrix: for every operation of the OpenAPI document, the status
// each kind of principal gets. Reviewed like policy: a change here is a change of who may do what.
//
// Reading a row: `expect` names the principals whose answer differs from `others`. Anonymous
// callers and expired, revoked or wrong-audience tokens always get 401 on secured operations
// (not listed per row). `public` rows answer the same to everyone. 404 is a concealed denial
// (the caller may not learn the patient exists); 403 a refusal of the kind of caller.
// Targets: `patient` is the world's patient (care team: clinicianTeam; consents: clinicianConsent
// and caregiverWith; revoked: clinicianRevoked; break-glass: clinicianBreakGlass; devices:
// deviceBound; backend services: `service` of the patient's organisation, `serviceConsent` of an
// organisation the patient consented to (rule service.organisation-consent, read only),
// `serviceOther` of an organisation with no relationship to the patient). Write operations prepare
// a fresh target per cell (prepare), so cells stay independent.

import { randomUUID } from 'node:crypto'
import type { App } from '../../src/app.ts'
import type { Database } from '../../src/platform/db/index.ts'
import type { World } from '../support/world.ts'

export const PRINCIPALS = [
  'anonymous',
  'expired',
  'revoked',
  'wrongAudience',
  'patientSelf',
  'patientOther',
  'caregiverWith',
  'caregiverWithout',
  'clinicianTeam',
  'clinicianOutside',
  'clinicianConsent',
  'clinicianRevoked',
  'clinicianBreakGlass',
  'orgAdminThis',
  'orgAdminOther',
  'admin',
  'auditor',
  'deviceBound',
  'deviceOther',
  'service',
  'serviceOther',
  'serviceConsent',
] as const
export type PrincipalName = (typeof PRINCIPALS)[number]

export interface MatrixContext {
  readonly app: App
  readonly world: World
  readonly db: Database
  readonly publicUrl: string
}

/** Per-cell request parts (a fresh target for a write). */
export interface Cell {
  readonly params?: Record<string, string>
  readonly query?: Record<string, string>
  readonly body?: unknown
}

export interface Row {
  /** Everyone gets this status (public operations). */
  readonly public?: number
  readonly expect: Partial<Record<PrincipalName, number>> & { readonly others: number }
  readonly params?: (c: MatrixContext) => Record<string, string>
  readonly query?: (c: MatrixContext) => Record<string, string>
  /** The body (default: the operation's OpenAPI example). */
  readonly body?: (c: MatrixContext) => unknown
  readonly headers?: Record<string, string>
  readonly prepare?: (c: MatrixContext, principal: PrincipalName) => Promise<Cell | undefined>
  /** Operations the audit trail leaves out by design (operational probes, ADR-0006). */
  readonly unaudited?: boolean
}

const publicRow = (status: number, extra: Partial<Row> = {}): Row => ({
  public: status,
  expect: { others: status },
  ...extra,
})

/** Kinds of caller no rule lets near a patient's clinical data: refused outright (403). */
const NO_CLINICAL_RULE = {
  orgAdminThis: 403,
  orgAdminOther: 403,
  admin: 403,
  auditor: 403,
  deviceBound: 403,
  deviceOther: 403,
} as const

/**
 * Reading the world's patient's data: the patient, the care team, a consent, break-glass, the
 * organisation's backend service and the backend service of an organisation the patient consented
 * to may; the rest are concealed (404) or refused (403).
 */
export function patientRead(ok = 200, overrides: Partial<Record<PrincipalName, number>> = {}): Row['expect'] {
  return {
    others: 404,
    ...NO_CLINICAL_RULE,
    patientSelf: ok,
    caregiverWith: ok,
    clinicianTeam: ok,
    clinicianConsent: ok,
    clinicianBreakGlass: ok,
    service: ok,
    serviceConsent: ok,
    ...overrides,
  }
}

/** Writing the world's patient's clinical data: the care team and break-glass only (consents in the world are read-only). */
export function patientWrite(
  ok = 201,
  overrides: Partial<Record<PrincipalName, number>> = {},
): Row['expect'] {
  return {
    others: 404,
    ...NO_CLINICAL_RULE,
    // no rule lets a patient, caregiver or service write clinical data
    patientSelf: 403,
    patientOther: 403,
    caregiverWith: 404,
    caregiverWithout: 404,
    service: 403,
    serviceOther: 403,
    serviceConsent: 403,
    clinicianTeam: ok,
    clinicianBreakGlass: ok,
    ...overrides,
  }
}

/** A FHIR subscription of the world's care-team clinician: only they see it; other subscribers get 404, non-subscribers 403. */
const OWNER_ONLY = (ok: number): Row['expect'] => ({
  others: 403,
  patientSelf: 404,
  patientOther: 404,
  caregiverWith: 404,
  caregiverWithout: 404,
  clinicianTeam: ok,
  clinicianOutside: 404,
  clinicianConsent: 404,
  clinicianRevoked: 404,
  clinicianBreakGlass: 404,
  service: 404,
  serviceOther: 404,
  serviceConsent: 404,
})

// ---- fixtures that a write cell prepares, so no cell depends on another's side effects ----

const uniq = (label: string) =>
  `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

async function freshUser(
  c: MatrixContext,
  role: string,
  organisationId: string | null,
  status = 'active',
): Promise<string> {
  const id = randomUUID()
  const email = `${uniq('matrix')}@world.test`
  await c.db.query(
    'INSERT INTO users (id, email, email_normalized, status, email_verified_at) VALUES ($1, $2, $2, $3, now())',
    [id, email, status],
  )
  await c.db.query('INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, $2, $3)', [
    id,
    role,
    organisationId,
  ])
  return id
}

async function freshPatient(c: MatrixContext): Promise<string> {
  return (
    await c.app.vigil.modules.patients.create({
      organisationId: c.world.orgA,
      demographics: { name: { family: 'Scratch' } },
    })
  ).id
}

async function freshDevice(c: MatrixContext, boundTo?: string): Promise<{ id: string; serial: string }> {
  const id = randomUUID()
  const serial = uniq('SN')
  await c.db.query(
    "INSERT INTO devices (id, organisation_id, manufacturer, model, serial, type) VALUES ($1, $2, 'Acme', 'GlucoOne', $3, 'glucometer')",
    [id, c.world.orgA, serial],
  )
  if (boundTo)
    await c.db.query(
      "INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES ($1, $2, $3, now(), 'matrix')",
      [randomUUID(), id, boundTo],
    )
  return { id, serial }
}

async function freshConsent(c: MatrixContext): Promise<string> {
  const id = randomUUID()
  const grantee = await freshUser(c, 'clinician', c.world.orgB)
  await c.db.query(
    "INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at) VALUES ($1, $2, 'user', $3, ARRAY['reports'], 'read', 'treatment', now() + interval '1 day')",
    [id, c.world.patients.patient, grantee],
  )
  return id
}

const TARGET_WRITE = (ok: number): Row['expect'] => ({
  others: 403,
  clinicianTeam: ok,
  clinicianOutside: 404,
  clinicianConsent: 404,
  clinicianRevoked: 404,
  clinicianBreakGlass: 404,
})
const ORG_ADMINS = (ok: number) => ({ others: 403, admin: ok, orgAdminThis: ok, orgAdminOther: 404 })
const FHIR_PATIENT = (c: MatrixContext) => `Patient/${c.world.patients.patient}`

let clientCounter = 0

let smartClient: string | undefined
/** A SMART app registered for EHR launch (once per run). */
async function smartLaunchClient(c: MatrixContext): Promise<string> {
  if (smartClient) return smartClient
  const id = uniq('matrix-smart-app')
  const metadata = {
    client_id: id,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['https://smart.example/callback'],
    scope: 'openid fhirUser launch patient/*.rs',
  }
  await c.db.query('INSERT INTO oauth_clients (client_id, metadata, description) VALUES ($1, $2, $3)', [
    id,
    JSON.stringify(metadata),
    'matrix SMART app',
  ])
  smartClient = id
  return id
}

export const MATRIX: Record<string, Row> = {
  // Operational and documentation endpoints, open by design (SRS §Product contract: reviewed exceptions).
  'GET /openapi.json': publicRow(200),
  'GET /docs': publicRow(200),
  'GET /console/': publicRow(200),
  'GET /health/live': publicRow(200, { unaudited: true }),
  'GET /health/ready': publicRow(200, { unaudited: true }),
  // No METRICS_TOKEN in tests: open to the scraper (production requires it).
  'GET /metrics': publicRow(200, { unaudited: true }),
  'GET /api/v1/': publicRow(200),
  'GET /api/v2/': publicRow(200),

  // Sign-in pages: an unknown interaction answers the same to everyone.
  'GET /interaction/{uid}': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/login': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/totp': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/enrol': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/continue': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'POST /interaction/{uid}/consent': publicRow(400, { params: () => ({ uid: 'no-such-interaction' }) }),
  'GET /account/password-reset': publicRow(200),
  // The example's CSRF token is not the form's: refused before anything else.
  'POST /account/password-reset': publicRow(403),
  // Unknown or spent single-use links: 410 Gone, the same page for every caller.
  'GET /account/password-reset/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  'POST /account/password-reset/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  // Sign-in unlock links (ADR-0014): unknown or spent, 410 Gone, the same page for every caller.
  'GET /account/unlock/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  'POST /account/unlock/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  // The password page needs a sign-in session cookie; a bearer token is not one.
  'GET /account/password': publicRow(403),
  'POST /account/password': publicRow(403),
  'GET /account/verify-email/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),
  'POST /account/verify-email/{token}': publicRow(410, { params: () => ({ token: 'not-a-real-token' }) }),

  // The caller's own identity: any authenticated user (account:read); devices and services hold no such scope.
  'GET /api/v2/me': {
    expect: {
      others: 200,
      deviceBound: 403,
      deviceOther: 403,
      service: 403,
      serviceOther: 403,
      serviceConsent: 403,
    },
  },
  'POST /api/v2/me/email-verification': {
    expect: {
      others: 204,
      deviceBound: 403,
      deviceOther: 403,
      service: 403,
      serviceOther: 403,
      serviceConsent: 403,
    },
  },

  // OAuth clients: platform administrators only.
  'GET /api/v2/admin/clients': { expect: { others: 403, admin: 200 } },
  'POST /api/v2/admin/clients': {
    expect: { others: 403, admin: 201 },
    prepare: async () => ({
      body: {
        clientId: `matrix-client-${++clientCounter}-${Date.now()}`,
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scope: 'device-data:write',
      },
    }),
  },
  'POST /api/v2/admin/clients/{clientId}/secret': {
    expect: { others: 403, admin: 200 },
    prepare: async (c, principal) => {
      const id = `matrix-rotate-${principal}-${Date.now()}`
      await c.db.query(
        "INSERT INTO oauth_clients (client_id, metadata, secret_sealed) VALUES ($1, $2, 'placeholder')",
        [
          id,
          {
            client_id: id,
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
      )
      return { params: { clientId: id } }
    },
  },
  'DELETE /api/v2/admin/clients/{clientId}': {
    expect: { others: 403, admin: 204 },
    prepare: async (c, principal) => {
      const id = `matrix-delete-${principal}-${Date.now()}`
      await c.db.query('INSERT INTO oauth_clients (client_id, metadata) VALUES ($1, $2)', [
        id,
        {
          client_id: id,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ])
      return { params: { clientId: id } }
    },
  },
  // ---- Organisations, users, patients, care teams (issue 4): admins; org-admins in their own organisation only ----
  'POST /api/v2/organisations': {
    expect: { others: 403, admin: 201 },
    prepare: async () => ({ body: { name: uniq('Matrix clinic') } }),
  },
  'GET /api/v2/organisations': { expect: { others: 403, admin: 200, orgAdminThis: 200, orgAdminOther: 200 } },
  'GET /api/v2/organisations/{id}': { expect: ORG_ADMINS(200), params: (c) => ({ id: c.world.orgA }) },
  'POST /api/v2/organisations/{id}/users': {
    expect: ORG_ADMINS(201),
    params: (c) => ({ id: c.world.orgA }),
    prepare: async () => ({ body: { email: `${uniq('invitee')}@world.test`, role: 'clinician' } }),
  },
  'GET /api/v2/organisations/{id}/users': { expect: ORG_ADMINS(200), params: (c) => ({ id: c.world.orgA }) },
  'PUT /api/v2/organisations/{id}/users/{userId}/roles/{role}': {
    expect: ORG_ADMINS(200),
    // A patient account made org-admin: a clinician's would be refused (segregation of duties, ADR-0012; test/security/escalation.test.ts).
    prepare: async (c) => ({
      params: { id: c.world.orgA, userId: await freshUser(c, 'patient', c.world.orgA), role: 'org-admin' },
    }),
  },
  'DELETE /api/v2/organisations/{id}/users/{userId}/roles/{role}': {
    expect: ORG_ADMINS(204),
    prepare: async (c) => {
      const userId = await freshUser(c, 'clinician', c.world.orgA)
      await c.db.query(
        "INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, 'caregiver', $2)",
        [userId, c.world.orgA],
      )
      return { params: { id: c.world.orgA, userId, role: 'caregiver' } }
    },
  },
  'POST /api/v2/users/{id}/disable': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: await freshUser(c, 'clinician', c.world.orgA) } }),
  },
  'POST /api/v2/users/{id}/enable': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: await freshUser(c, 'clinician', c.world.orgA, 'disabled') } }),
  },
  // Resetting a user's second factor (ADR-0027): who may manage the account; another organisation's answers 404.
  'POST /api/v2/users/{id}/second-factor/reset': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: await freshUser(c, 'clinician', c.world.orgA) } }),
  },
  'POST /api/v2/organisations/{id}/patients': {
    expect: ORG_ADMINS(201),
    params: (c) => ({ id: c.world.orgA }),
    prepare: async () => ({
      body: {
        demographics: {
          name: { given: ['Ada'], family: 'Matrix' },
          birthDate: '1985-12-10',
          gender: 'female',
          identifiers: [{ system: 'urn:vigil:mrn', value: uniq('MRN') }],
        },
      },
    }),
  },
  'GET /api/v2/patients/{id}': {
    expect: patientRead(200),
    params: (c) => ({ id: c.world.patients.patient }),
  },
  // Lists are filtered to what each caller may reach (the canary check proves nothing else leaks).
  'GET /api/v2/patients': { expect: { others: 200, ...NO_CLINICAL_RULE } },
  'GET /api/v2/patients/{id}/care-team': {
    expect: ORG_ADMINS(200),
    params: (c) => ({ id: c.world.patients.patient }),
  },
  'PUT /api/v2/patients/{id}/care-team/{userId}': {
    expect: ORG_ADMINS(201),
    prepare: async (c) => ({
      params: { id: c.world.patients.patient, userId: await freshUser(c, 'clinician', c.world.orgA) },
    }),
  },
  'DELETE /api/v2/patients/{id}/care-team/{userId}': {
    expect: ORG_ADMINS(204),
    prepare: async (c) => {
      const userId = await freshUser(c, 'clinician', c.world.orgA)
      await c.db.query(
        'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
        [c.world.patients.patient, userId, c.world.orgA],
      )
      return { params: { id: c.world.patients.patient, userId } }
    },
  },

  // ---- A patient's consents: the patient themself (each on their own record) ----
  'POST /api/v2/me/consents': {
    expect: { others: 403, patientSelf: 201, patientOther: 201 },
    prepare: async (c) => ({
      body: {
        granteeKind: 'user',
        granteeId: await freshUser(c, 'clinician', c.world.orgB),
        categories: ['reports'],
        access: 'read',
        purpose: 'treatment',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
    }),
  },
  'GET /api/v2/me/consents': { expect: { others: 403, patientSelf: 200, patientOther: 200 } },
  // A consent of the world's patient: theirs to revoke; another patient learns nothing of it.
  'DELETE /api/v2/me/consents/{consentId}': {
    expect: { others: 403, patientSelf: 204, patientOther: 404 },
    prepare: async (c) => ({ params: { consentId: await freshConsent(c) } }),
  },

  // ---- Break-glass: a clinician of the patient's organisation may open (on a scratch patient, so no other cell gains access); admins review ----
  'POST /api/v2/patients/{id}/break-glass': {
    // The scratch patient is in organisation A: B's clinicians get the concealed 404 (ADR-0012).
    expect: {
      others: 403,
      clinicianTeam: 201,
      clinicianOutside: 201,
      clinicianConsent: 404,
      clinicianRevoked: 404,
      clinicianBreakGlass: 201,
    },
    prepare: async (c) => ({ params: { id: await freshPatient(c) } }),
  },
  'GET /api/v2/break-glass': { expect: { others: 403, admin: 200 } },
  'POST /api/v2/break-glass/{id}/review': {
    expect: { others: 403, admin: 200 },
    prepare: async (c) => {
      const id = randomUUID()
      await c.db.query(
        "INSERT INTO break_glass_sessions (id, user_id, patient_id, reason, started_at, expires_at) VALUES ($1, $2, $3, 'Matrix review of an emergency access', now() - interval '2 hours', now() - interval '61 minutes')",
        [id, c.world.users.clinicianOutside.id, await freshPatient(c)],
      )
      return { params: { id } }
    },
  },

  // ---- Device registry (issue 5): admins; org-admins in their own organisation ----
  'POST /api/v2/devices': {
    expect: ORG_ADMINS(201),
    prepare: async (c) => ({
      body: {
        manufacturer: 'Acme Medical',
        model: 'GlucoOne',
        serial: uniq('GO'),
        type: 'glucometer',
        firmwareVersion: '2.4.1',
        organisationId: c.world.orgA,
      },
    }),
  },
  'GET /api/v2/devices': { expect: { others: 403, admin: 200, orgAdminThis: 200, orgAdminOther: 200 } },
  'GET /api/v2/devices/{id}': { expect: ORG_ADMINS(200), params: (c) => ({ id: c.world.devices.bound.id }) },
  'PATCH /api/v2/devices/{id}': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: (await freshDevice(c)).id }, body: { firmwareVersion: '2.5.0' } }),
  },
  'PUT /api/v2/devices/{id}/binding': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({
      params: { id: (await freshDevice(c)).id },
      body: { patientId: await freshPatient(c) },
    }),
  },
  'DELETE /api/v2/devices/{id}/binding': {
    expect: ORG_ADMINS(204),
    prepare: async (c) => ({ params: { id: (await freshDevice(c, await freshPatient(c))).id } }),
  },
  'GET /api/v2/devices/{id}/bindings': {
    expect: ORG_ADMINS(200),
    params: (c) => ({ id: c.world.devices.bound.id }),
  },
  // A patient pairs an unbound device to their own record with its one-time code.
  'POST /api/v2/devices/pairing': {
    expect: { others: 403, patientSelf: 200, patientOther: 200 },
    prepare: async (c) => {
      const d = await freshDevice(c)
      const pairingCode = await c.app.vigil.modules.devices.issuePairingCode(d.id)
      return { body: { manufacturer: 'Acme', model: 'GlucoOne', serial: d.serial, pairingCode } }
    },
  },
  // A patient unpairs a device from their own record (ADR-0027): a fresh device bound to the world's
  // patient per cell; the other patient learns nothing of it (404), no one else is a patient (403).
  'DELETE /api/v2/me/devices/{id}': {
    expect: { others: 403, patientSelf: 204, patientOther: 404 },
    prepare: async (c) => ({ params: { id: (await freshDevice(c, c.world.patients.patient)).id } }),
  },
  'POST /api/v2/devices/{id}/pairing-code': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: (await freshDevice(c)).id } }),
  },

  // ---- Device data (issue 5): the bound device and the care team write; the patient's circle reads ----
  'POST /api/v2/device-data': {
    expect: patientWrite(200, { deviceBound: 200, deviceOther: 404 }),
    body: (c) => ({
      patientId: c.world.patients.patient,
      readings: [
        {
          id: uniq('matrix'),
          code: '2339-0',
          value: 104,
          unit: 'mg/dL',
          effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    }),
  },
  // v1 is the devices' first contract: it cannot name a patient, so a user with no record of their
  // own (a clinician, a caregiver) is told the patient is missing (400) before any data is touched.
  'POST /api/v1/device-data': {
    expect: patientWrite(201, {
      deviceBound: 201,
      deviceOther: 201,
      clinicianTeam: 400,
      clinicianBreakGlass: 400,
      clinicianOutside: 400,
      clinicianConsent: 400,
      clinicianRevoked: 400,
      caregiverWith: 400,
      caregiverWithout: 400,
    }),
    body: () => ({
      type: 'glucose',
      value: 104,
      unit: 'mg/dL',
      time: new Date(Date.now() - 60_000).toISOString(),
    }),
  },
  'GET /api/v2/device-data': {
    expect: patientRead(200),
    query: (c) => ({ patient: c.world.patients.patient }),
  },
  // Summaries for the console's charts (issue 15): the same decision as the readings they reduce.
  'GET /api/v2/device-data/summary': {
    expect: patientRead(200),
    query: (c) => ({
      patient: c.world.patients.patient,
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
      bucket: 'hour',
      timeZone: 'Europe/Paris',
    }),
  },
  // A patient's own target ranges (ADR-0027): read with the readings; set and cleared by the care team only
  // (not a consent's grantee, not break-glass: concealed 404; nobody else: 403).
  'GET /api/v2/patients/{id}/target-ranges': {
    expect: patientRead(200),
    params: (c) => ({ id: c.world.patients.patient }),
  },
  'PUT /api/v2/patients/{id}/target-ranges/{code}': {
    expect: TARGET_WRITE(200),
    params: (c) => ({ id: c.world.patients.patient, code: '2339-0' }),
  },
  'DELETE /api/v2/patients/{id}/target-ranges/{code}': {
    expect: TARGET_WRITE(204),
    params: (c) => ({ id: c.world.patients.patient, code: '8867-4' }),
  },
  // A patient's own access report (issue 15): each patient reads their own, nobody else's.
  'GET /api/v2/me/access-report': { expect: { others: 403, patientSelf: 200, patientOther: 200 } },
  'GET /api/v2/device-data/glucose-profile': {
    expect: patientRead(200),
    query: (c) => ({
      patient: c.world.patients.patient,
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
    }),
  },

  // ---- The audit trail: auditors read it; admins and auditors see security events ----
  'GET /api/v2/audit/entries': {
    expect: { others: 403, auditor: 200 },
    query: (c) => ({ patient: c.world.patients.patient, limit: '5' }),
  },
  'GET /api/v2/audit/entries/{id}': {
    expect: { others: 403, auditor: 200 },
    prepare: async (c) => ({
      params: {
        id: (
          (await c.db.query<{ id: string }>('SELECT id FROM audit_entries ORDER BY occurred_at DESC LIMIT 1'))
            .rows[0] as { id: string }
        ).id,
      },
    }),
  },
  'GET /api/v2/audit/verification': { expect: { others: 403, auditor: 200 } },
  'GET /api/v2/security-events': { expect: { others: 403, admin: 200, auditor: 200 } },
  'GET /api/v2/security-events/{id}': {
    expect: { others: 403, admin: 200, auditor: 200 },
    prepare: async (c) => ({ params: { id: await freshSecurityEvent(c) } }),
  },
  'POST /api/v2/security-events/{id}/acknowledge': {
    expect: { others: 403, admin: 200 },
    prepare: async (c) => ({ params: { id: await freshSecurityEvent(c) } }),
  },
  'POST /api/v2/security-events/scan': { expect: { others: 403, admin: 200 } },
  'POST /api/v2/admin/patients/{id}/erase': {
    expect: ORG_ADMINS(200),
    prepare: async (c) => ({ params: { id: await freshPatient(c) }, body: { confirm: true } }),
  },

  // ---- FHIR R4 (issue 6), with FHIR-audience tokens ----
  'GET /fhir/R4/metadata': publicRow(200),
  'GET /.well-known/smart-configuration': publicRow(200),
  // ---- SMART App Launch 2.0 (issue 13) ----
  'GET /fhir/R4/.well-known/smart-configuration': publicRow(200),
  // A clinician as Practitioner, for patients and clinicians: themself, their care team's patients, clinicians of their organisation.
  'GET /fhir/R4/Practitioner/{id}': {
    expect: {
      others: 404,
      patientSelf: 200,
      clinicianTeam: 200,
      clinicianOutside: 200,
      clinicianBreakGlass: 200,
      caregiverWith: 403,
      caregiverWithout: 403,
      orgAdminThis: 403,
      orgAdminOther: 403,
      admin: 403,
      auditor: 403,
      deviceBound: 403,
      deviceOther: 403,
      service: 403,
      serviceOther: 403,
      serviceConsent: 403,
    },
    params: (c) => ({ id: c.world.users.clinicianTeam.id }),
  },
  // EHR launch: only a clinician who may read the patient.
  'POST /api/v2/smart/launch': {
    expect: {
      others: 403,
      clinicianTeam: 201,
      clinicianConsent: 201,
      clinicianBreakGlass: 201,
      clinicianOutside: 404,
      clinicianRevoked: 404,
    },
    prepare: async (c) => ({
      body: { client_id: await smartLaunchClient(c), patient: c.world.patients.patient },
    }),
  },
  'GET /fhir/R4/Patient/{id}': {
    expect: patientRead(200),
    params: (c) => ({ id: c.world.patients.patient }),
  },
  'GET /fhir/R4/Patient': { expect: { others: 200, ...NO_CLINICAL_RULE } },
  'PUT /fhir/R4/Patient/{id}': {
    expect: patientWrite(200),
    params: (c) => ({ id: c.world.patients.patient }),
    body: (c) => ({
      resourceType: 'Patient',
      id: c.world.patients.patient,
      name: [{ family: `Patient${c.world.suffix}`, given: ['Pat'] }],
      birthDate: '1980-02-03',
      gender: 'female',
      identifier: [{ system: 'urn:vigil:mrn', value: `MRN-${c.world.suffix}-1` }],
    }),
  },
  'POST /fhir/R4/Patient': {
    expect: ORG_ADMINS(201),
    prepare: async (c) => ({
      body: {
        resourceType: 'Patient',
        managingOrganization: { reference: `Organization/${c.world.orgA}` },
        identifier: [{ system: 'urn:vigil:mrn', value: uniq('MRN') }],
        name: [{ family: 'Example', given: ['Erin'] }],
        gender: 'female',
        birthDate: '1984-05-06',
      },
    }),
  },
  'GET /fhir/R4/Device/{id}': { expect: patientRead(200), params: (c) => ({ id: c.world.devices.bound.id }) },
  'GET /fhir/R4/Device': {
    expect: { others: 200, ...NO_CLINICAL_RULE },
    query: (c) => ({ patient: c.world.patients.patient }),
  },
  'GET /fhir/R4/Observation/{id}': {
    expect: patientRead(200),
    params: (c) => ({ id: c.world.readings.patient }),
  },
  'GET /fhir/R4/Observation': {
    expect: { others: 200, ...NO_CLINICAL_RULE },
    query: (c) => ({ patient: c.world.patients.patient, _include: 'Observation:subject' }),
  },
  'GET /fhir/R4/DiagnosticReport/{id}': {
    expect: patientRead(200),
    params: (c) => ({ id: c.world.reports.patient }),
  },
  'GET /fhir/R4/DiagnosticReport': {
    expect: { others: 200, ...NO_CLINICAL_RULE },
    query: (c) => ({ patient: c.world.patients.patient }),
  },
  'POST /fhir/R4/DiagnosticReport': {
    expect: patientWrite(201),
    body: (c) => ({
      resourceType: 'DiagnosticReport',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Laboratory report' }] },
      subject: { reference: FHIR_PATIENT(c) },
      effectiveDateTime: new Date(Date.now() - 3_600_000).toISOString(),
      result: [{ reference: `Observation/${c.world.readings.patient}` }],
      conclusion: 'Within range.',
    }),
  },
  // ---- Event subscriptions (issue 16; ADR-0020): an organisation's administrator or its backend service (with subscriptions:manage) ----
  'POST /api/v2/subscriptions': {
    expect: { others: 403, orgAdminThis: 201, orgAdminOther: 201 },
    body: () => ({ url: 'https://hooks.clinic.example/vigil', eventTypes: ['device-data.accepted'] }),
  },
  'GET /api/v2/subscriptions': { expect: { others: 403, orgAdminThis: 200, orgAdminOther: 200 } },
  'GET /api/v2/subscriptions/{id}': {
    expect: { others: 403, orgAdminThis: 200, orgAdminOther: 404 },
    prepare: async (c) => ({ params: { id: await freshSubscription(c) } }),
  },
  'DELETE /api/v2/subscriptions/{id}': {
    expect: { others: 403, orgAdminThis: 204, orgAdminOther: 404 },
    prepare: async (c) => ({ params: { id: await freshSubscription(c) } }),
  },
  'POST /api/v2/subscriptions/{id}/rotate-secret': {
    expect: { others: 403, orgAdminThis: 200, orgAdminOther: 404 },
    prepare: async (c) => ({ params: { id: await freshSubscription(c) }, body: { overlapSeconds: 60 } }),
  },
  'GET /api/v2/subscriptions/{id}/deliveries': {
    expect: { others: 403, orgAdminThis: 200, orgAdminOther: 404 },
    prepare: async (c) => ({ params: { id: await freshSubscription(c) } }),
  },
  'POST /api/v2/subscriptions/{id}/redrive': {
    expect: { others: 403, orgAdminThis: 200, orgAdminOther: 404 },
    prepare: async (c) => ({ params: { id: await freshSubscription(c) } }),
  },
  // ---- FHIR Subscriptions (issue 16; ADR-0021): anyone who may read the filtered patient's topic resources — a backend service by its
  // organisation or by the patient's consent to it — each subscription its owner's only ----
  'POST /fhir/R4/Subscription': {
    expect: {
      others: 403,
      patientSelf: 201,
      caregiverWith: 201,
      clinicianTeam: 201,
      clinicianConsent: 201,
      clinicianBreakGlass: 201,
      service: 201,
      serviceConsent: 201,
    },
    body: (c) => ({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'matrix',
      criteria: 'https://vigil.dev/fhir/SubscriptionTopic/new-observation',
      _criteria: {
        extension: [
          {
            url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
            valueString: `Observation?patient=${FHIR_PATIENT(c)}`,
          },
        ],
      },
      channel: {
        type: 'rest-hook',
        endpoint: 'https://127.0.0.1:1/notify',
        payload: 'application/fhir+json',
      },
    }),
  },
  'GET /fhir/R4/Subscription/{id}': {
    expect: OWNER_ONLY(200),
    prepare: async (c) => ({ params: { id: await freshFhirSubscription(c) } }),
  },
  'DELETE /fhir/R4/Subscription/{id}': {
    expect: OWNER_ONLY(200),
    prepare: async (c) => ({ params: { id: await freshFhirSubscription(c) } }),
  },
  'GET /fhir/R4/Subscription/{id}/$status': {
    expect: OWNER_ONLY(200),
    prepare: async (c) => ({ params: { id: await freshFhirSubscription(c) } }),
  },
  'GET /fhir/R4/Subscription/{id}/$events': {
    expect: OWNER_ONLY(200),
    prepare: async (c) => ({ params: { id: await freshFhirSubscription(c) } }),
  },
  'GET /fhir/R4/AuditEvent': {
    expect: { others: 403, auditor: 200 },
    query: (c) => ({ patient: c.world.patients.patient }),
  },
  'GET /fhir/R4/AuditEvent/{id}': {
    expect: { others: 403, auditor: 200 },
    prepare: async (c) => ({
      params: {
        id: (
          (await c.db.query<{ id: string }>('SELECT id FROM audit_entries ORDER BY occurred_at DESC LIMIT 1'))
            .rows[0] as { id: string }
        ).id,
      },
    }),
  },
}

async function freshFhirSubscription(c: MatrixContext): Promise<string> {
  const id = randomUUID()
  await c.db.query(
    "INSERT INTO event_subscriptions (id, kind, owner_kind, owner_id, scopes, url, event_types, patient_id, status, topic) VALUES ($1, 'fhir', 'user', $2, ARRAY['user/*.rs'], 'https://127.0.0.1:1/notify', ARRAY['device-data.accepted'], $3, 'active', 'https://vigil.dev/fhir/SubscriptionTopic/new-observation')",
    [id, c.world.users.clinicianTeam.id, c.world.patients.patient],
  )
  return id
}

async function freshSubscription(c: MatrixContext): Promise<string> {
  const id = randomUUID()
  await c.db.query(
    "INSERT INTO event_subscriptions (id, kind, organisation_id, owner_kind, owner_id, scopes, url, event_types) VALUES ($1, 'webhook', $2, 'organisation', $3, ARRAY['device-data:read'], 'https://hooks.clinic.example/vigil', ARRAY['device-data.accepted'])",
    [id, c.world.orgA, c.world.orgA],
  )
  return id
}

async function freshSecurityEvent(c: MatrixContext): Promise<string> {
  const id = randomUUID()
  await c.db.query(
    "INSERT INTO security_events (id, kind, subject, window_start, window_key, details) VALUES ($1, 'forbidden-burst', $2, now(), $3, '{}')",
    [id, c.world.users.clinicianOutside.id, `matrix-${id}`],
  )
  return id
}
