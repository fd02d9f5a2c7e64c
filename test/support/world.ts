// The authorization world every access-control test stands on: two organisations, a user of each
// role, patients (one a canary seeded with unique values that must never appear in another
// caller's response), a care team, consents (live and revoked), an open break-glass session,
// devices bound to patients, and a backend service per organisation.
//
// Tokens are minted through the authorization server's own models (provider.AccessToken /
// ClientCredentials) and stored by its adapter, so the real authenticator looks them up exactly
// as it does a token from the token endpoint. The OAuth flows themselves are proven with
// openid-client in test/e2e; here the subject is authorization, and minting keeps 20 principals cheap.

import { randomBytes, randomUUID } from 'node:crypto'
import type { ClientMetadata } from 'oidc-provider'
import type { App } from '../../src/app.ts'
import { apiResource, fhirResource } from '../../src/security/oauth-server/index.ts'
import { API_SCOPES } from '../../src/security/oauth-server/scopes.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { createKeyring, keyringSealer } from '../../src/platform/crypto/keyring.ts'
import { createClientStore } from '../../src/security/oauth-server/index.ts'
import { serviceClientMetadata } from '../../src/modules/clients/index.ts'
import { oidcStorageId } from '../../src/security/oauth-server/postgres-adapter.ts'
import { TEST_KEYRING } from './config.ts'
import { sealReading, type ReadingContent } from '../../src/modules/device-data/index.ts'

export const ALL_API_SCOPES = ['openid', ...API_SCOPES].join(' ')

export interface WorldUser {
  readonly id: string
  readonly email: string
}

export interface WorldDevice {
  readonly id: string
  readonly clientId: string
  readonly clientSecret: string
  readonly patientId: string
}

export interface World {
  readonly suffix: string
  readonly orgA: string
  readonly orgB: string
  readonly consoleClientId: string
  readonly users: Record<
    | 'admin'
    | 'auditor'
    | 'orgAdminA'
    | 'orgAdminB'
    | 'clinicianTeam'
    | 'clinicianOutside'
    | 'clinicianConsent'
    | 'clinicianRevoked'
    | 'clinicianBreakGlass'
    | 'clinicianOrgB'
    | 'caregiverWith'
    | 'caregiverWithout'
    | 'patient'
    | 'otherPatient'
    | 'canary',
    WorldUser
  >
  /** Patient record ids. */
  readonly patients: { readonly patient: string; readonly otherPatient: string; readonly canary: string }
  /** Unique strings seeded into the canary patient's record: no response to anyone else may contain them. */
  readonly canaryValues: readonly string[]
  /** `organisation`: the patient's consent to organisation D (read, every category), whose only member is a backend service. */
  readonly consents: {
    readonly live: string
    readonly revoked: string
    readonly caregiver: string
    readonly organisation: string
  }
  readonly breakGlassId: string
  readonly devices: { readonly bound: WorldDevice; readonly other: WorldDevice }
  /** Backend services: organisation A's (the patient's own), B's (no relationship to the patient) and D's (the patient consented to D). */
  readonly services: {
    readonly orgA: { clientId: string; clientSecret: string }
    readonly orgB: { clientId: string; clientSecret: string }
    readonly consented: { clientId: string; clientSecret: string }
  }
  /** One reading each (FHIR Observations): the patient's from their bound device; the canary's with a unique value. */
  readonly readings: { readonly patient: string; readonly canary: string }
  /** One DiagnosticReport each; the canary's conclusion is a canary value. */
  readonly reports: { readonly patient: string; readonly canary: string }
}

export interface MintOptions {
  readonly clientId: string
  readonly accountId?: string
  readonly scope: string
  /** 'api' (default) or 'fhir' — the token's audience. */
  readonly resource?: 'api' | 'fhir'
  /** Seconds; negative for a token that is already expired. */
  readonly expiresIn?: number
  /** SMART launch context (patient id). */
  readonly patient?: string
}

/** A real opaque access token, saved by the authorization server's adapter. */
export async function mintToken(app: App, publicUrl: string, options: MintOptions): Promise<string> {
  const { provider } = app.vigil
  const client = await provider.Client.find(options.clientId)
  if (!client) throw new Error(`mintToken: no client ${options.clientId}`)
  const audience = options.resource === 'fhir' ? fhirResource(publicUrl) : apiResource(publicUrl)
  const resourceServer = new provider.ResourceServer(audience, {
    scope: options.scope,
    audience,
    accessTokenFormat: 'opaque',
    accessTokenTTL: 600,
  })
  const expiresIn = options.expiresIn ?? 600
  if (options.accountId) {
    const grant = new provider.Grant({ accountId: options.accountId, clientId: options.clientId })
    grant.addResourceScope(audience, options.scope)
    const grantId = await grant.save()
    const token = new provider.AccessToken({
      accountId: options.accountId,
      client,
      grantId,
      gty: 'authorization_code',
      scope: options.scope,
      resourceServer,
      ...(expiresIn > 0 ? { expiresIn } : {}),
      ...(options.patient ? { extra: { patient: options.patient } } : {}),
    } as unknown as ConstructorParameters<typeof provider.AccessToken>[0])
    const value = await token.save()
    if (expiresIn <= 0) await expire(app.vigil.modules.db, oidcStorageId(app.vigil.modules.keyring, value))
    return value
  }
  const token = new provider.ClientCredentials({
    client,
    scope: options.scope,
    resourceServer,
    ...(expiresIn > 0 ? { expiresIn } : {}),
  } as unknown as ConstructorParameters<typeof provider.ClientCredentials>[0])
  const value = await token.save()
  if (expiresIn <= 0) await expire(app.vigil.modules.db, oidcStorageId(app.vigil.modules.keyring, value))
  return value
}

/** Moves a stored token's expiry into the past (the adapter keeps it; the model sees it expired). storedId: the token's keyed hash (ADR-0013). */
async function expire(db: Database, storedId: string): Promise<void> {
  await db.query(
    `UPDATE oidc_payloads SET payload = jsonb_set(payload, '{exp}', to_jsonb((extract(epoch FROM now())::bigint) - 60)), expires_at = now() + interval '1 hour'
      WHERE id = $1`,
    [storedId],
  )
}

async function insertUser(
  db: Database,
  email: string,
  roles: Array<{ role: string; organisationId: string | null }>,
): Promise<WorldUser> {
  const id = randomUUID()
  await db.query(
    "INSERT INTO users (id, email, email_normalized, status, email_verified_at) VALUES ($1, $2, $2, 'active', now())",
    [id, email],
  )
  for (const r of roles)
    await db.query('INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, $2, $3)', [
      id,
      r.role,
      r.organisationId,
    ])
  return { id, email }
}

/** Builds the world on the app's database. Ids are fresh each call, so worlds never collide on a shared database. */
export async function buildWorld(app: App): Promise<World> {
  const { db, patients } = app.vigil.modules
  const suffix = randomBytes(4).toString('hex')
  const org = async (name: string) =>
    (
      (
        await db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
          `${name} ${suffix}`,
        ])
      ).rows[0] as { id: string }
    ).id
  const orgA = await org('Clinic A')
  const orgB = await org('Clinic B')
  // The canary's own clinic: no principal of the world belongs to it, so nobody may see the canary.
  const orgC = await org('Clinic C')
  // An integration's organisation: no user belongs to it; the patient consented to it (rule service.organisation-consent).
  const orgD = await org('Clinic D')
  const mail = (name: string) => `${name}.${suffix}@world.test`

  const users = {
    admin: await insertUser(db, mail('admin'), [{ role: 'admin', organisationId: null }]),
    auditor: await insertUser(db, mail('auditor'), [{ role: 'auditor', organisationId: null }]),
    orgAdminA: await insertUser(db, mail('orgadmin-a'), [{ role: 'org-admin', organisationId: orgA }]),
    orgAdminB: await insertUser(db, mail('orgadmin-b'), [{ role: 'org-admin', organisationId: orgB }]),
    clinicianTeam: await insertUser(db, mail('clinician-team'), [
      { role: 'clinician', organisationId: orgA },
    ]),
    clinicianOutside: await insertUser(db, mail('clinician-outside'), [
      { role: 'clinician', organisationId: orgA },
    ]),
    clinicianConsent: await insertUser(db, mail('clinician-consent'), [
      { role: 'clinician', organisationId: orgB },
    ]),
    clinicianRevoked: await insertUser(db, mail('clinician-revoked'), [
      { role: 'clinician', organisationId: orgB },
    ]),
    clinicianBreakGlass: await insertUser(db, mail('clinician-breakglass'), [
      { role: 'clinician', organisationId: orgA },
    ]),
    clinicianOrgB: await insertUser(db, mail('clinician-orgb'), [
      { role: 'clinician', organisationId: orgB },
    ]),
    caregiverWith: await insertUser(db, mail('caregiver-with'), [
      { role: 'caregiver', organisationId: null },
    ]),
    caregiverWithout: await insertUser(db, mail('caregiver-without'), [
      { role: 'caregiver', organisationId: null },
    ]),
    patient: await insertUser(db, mail('patient'), [{ role: 'patient', organisationId: orgA }]),
    otherPatient: await insertUser(db, mail('other-patient'), [{ role: 'patient', organisationId: orgA }]),
    canary: await insertUser(db, mail('canary'), [{ role: 'patient', organisationId: orgC }]),
  }

  // A reading value no other record holds: 93.75 plus a fraction from the suffix (e.g. 93.7531).
  const canaryReadingValue = Number(`93.75${parseInt(suffix.slice(0, 4), 16) % 100}`.padEnd(7, '1'))
  const canaryValues = [
    `Canaryfamily${suffix}`,
    `Canarygiven${suffix}`,
    `CANARY-MRN-${suffix}`,
    String(canaryReadingValue),
    `Canaryconclusion${suffix}`,
  ]
  const patient = await patients.create({
    userId: users.patient.id,
    organisationId: orgA,
    demographics: {
      name: { given: ['Pat'], family: `Patient${suffix}` },
      birthDate: '1980-02-03',
      gender: 'female',
      identifiers: [{ system: 'urn:vigil:mrn', value: `MRN-${suffix}-1` }],
    },
  })
  const otherPatient = await patients.create({
    userId: users.otherPatient.id,
    organisationId: orgA,
    demographics: {
      name: { given: ['Otto'], family: `Other${suffix}` },
      birthDate: '1975-06-07',
      gender: 'male',
      identifiers: [{ system: 'urn:vigil:mrn', value: `MRN-${suffix}-2` }],
    },
  })
  const canary = await patients.create({
    userId: users.canary.id,
    organisationId: orgC,
    demographics: {
      name: { given: [canaryValues[1] as string], family: canaryValues[0] as string },
      birthDate: '1911-11-11',
      gender: 'other',
      identifiers: [{ system: 'urn:vigil:mrn', value: canaryValues[2] as string }],
    },
  })

  await db.query('INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)', [
    patient.id,
    users.clinicianTeam.id,
    orgA,
  ])
  const consent = async (granteeId: string, purpose: string, revoked: boolean) => {
    const id = randomUUID()
    await db.query(
      `INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, granted_by, revoked_at)
       VALUES ($1, $2, 'user', $3, $4, 'read', $5, now() + interval '30 days', $6, $7)`,
      [
        id,
        patient.id,
        granteeId,
        ['device-data', 'demographics', 'reports', 'devices'],
        purpose,
        users.patient.id,
        revoked ? new Date() : null,
      ],
    )
    return id
  }
  const consents = {
    live: await consent(users.clinicianConsent.id, 'treatment', false),
    revoked: await consent(users.clinicianRevoked.id, 'treatment', true),
    caregiver: await consent(users.caregiverWith.id, 'caregiving', false),
    organisation: randomUUID(),
  }
  await db.query(
    `INSERT INTO consents (id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, granted_by)
     VALUES ($1, $2, 'organisation', $3, $4, 'read', 'treatment', now() + interval '30 days', $5)`,
    [
      consents.organisation,
      patient.id,
      orgD,
      ['device-data', 'demographics', 'reports', 'devices'],
      users.patient.id,
    ],
  )
  const breakGlassId = randomUUID()
  await db.query(
    "INSERT INTO break_glass_sessions (id, user_id, patient_id, reason, started_at, expires_at) VALUES ($1, $2, $3, 'Unconscious patient in the emergency room', now(), now() + interval '60 minutes')",
    [breakGlassId, users.clinicianBreakGlass.id, patient.id],
  )

  const clients = createClientStore({ db, sealer: keyringSealer(createKeyring(TEST_KEYRING)) })
  const consoleClientId = `world-console-${suffix}`
  await clients.upsert({
    clientId: consoleClientId,
    metadata: {
      client_id: consoleClientId,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      application_type: 'native',
      scope: `${ALL_API_SCOPES} offline_access profile email patient/*.rs user/*.rs launch/patient fhirUser`,
    } as ClientMetadata,
  })
  const secretClient = async (clientId: string, scope: string, organisationId: string | null) => {
    const clientSecret = randomBytes(24).toString('base64url')
    await clients.upsert({ clientId, secret: clientSecret, metadata: serviceClientMetadata(clientId, scope) })
    if (organisationId)
      await db.query('UPDATE oauth_clients SET organisation_id = $2 WHERE client_id = $1', [
        clientId,
        organisationId,
      ])
    return { clientId, clientSecret }
  }
  const device = async (name: string, patientId: string): Promise<WorldDevice> => {
    const client = await secretClient(`world-${name}-${suffix}`, 'device-data:write', null)
    const id = randomUUID()
    await db.query(
      "INSERT INTO devices (id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version) VALUES ($1, $2, $3, 'Acme', 'GlucoOne', $4, 'glucometer', '1.0.0')",
      [id, client.clientId, orgA, `SN-${name}-${suffix}`],
    )
    await db.query(
      "INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by) VALUES ($1, $2, $3, now(), 'world')",
      [randomUUID(), id, patientId],
    )
    return { id, patientId, ...client }
  }
  const devices = {
    bound: await device('glucometer', patient.id),
    other: await device('glucometer-other', otherPatient.id),
  }
  const services = {
    orgA: await secretClient(
      `world-service-a-${suffix}`,
      'patients:read device-data:read reports:read system/*.rs',
      orgA,
    ),
    orgB: await secretClient(
      `world-service-b-${suffix}`,
      'patients:read device-data:read reports:read system/*.rs',
      orgB,
    ),
    consented: await secretClient(
      `world-service-d-${suffix}`,
      'patients:read device-data:read reports:read system/*.rs',
      orgD,
    ),
  }

  const reading = async (patientId: string, deviceId: string | null, content: ReadingContent) => {
    const id = randomUUID()
    await db.query(
      `INSERT INTO readings (id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at, client_reading_id, value_sealed, content_index, source)
       VALUES ($1, $2, $3, '2339-0', 'vital-signs', now() - interval '1 hour', 60, now(), $4, $5, $6, 'v2')`,
      [
        id,
        patientId,
        deviceId,
        `world-${id}`,
        await sealReading(app.vigil.modules.cipher, patientId, id, content),
        `world-${id}`,
      ],
    )
    return id
  }
  const readings = {
    patient: await reading(patient.id, devices.bound.id, { value: 104, unit: 'mg/dL' }),
    canary: await reading(canary.id, null, {
      value: canaryReadingValue,
      unit: 'mg/dL',
      note: canaryValues[4] as string,
    }),
  }
  const report = async (patientId: string, readingId: string, conclusion: string) => {
    const id = randomUUID()
    await db.query(
      `INSERT INTO diagnostic_reports (id, patient_id, code, code_display, status, effective_at, issued_at, result_reading_ids, conclusion_sealed, performer_user_id)
       VALUES ($1, $2, '11502-2', 'Laboratory report', 'final', now() - interval '1 hour', now(), ARRAY[$3]::uuid[], $4, $5)`,
      [
        id,
        patientId,
        readingId,
        await app.vigil.modules.cipher.seal(patientId, conclusion, `diagnostic-report:${id}`),
        users.clinicianTeam.id,
      ],
    )
    return id
  }
  const reports = {
    patient: await report(patient.id, readings.patient, 'Glucose within target range.'),
    canary: await report(canary.id, readings.canary, canaryValues[4] as string),
  }

  return {
    suffix,
    orgA,
    orgB,
    consoleClientId,
    users,
    patients: { patient: patient.id, otherPatient: otherPatient.id, canary: canary.id },
    canaryValues,
    consents,
    breakGlassId,
    devices,
    services,
    readings,
    reports,
  }
}

/** A user's token through the world's console client, with every API scope unless narrowed. */
export function userToken(
  app: App,
  publicUrl: string,
  world: World,
  user: WorldUser,
  scope = ALL_API_SCOPES,
  extra: Partial<MintOptions> = {},
): Promise<string> {
  return mintToken(app, publicUrl, { clientId: world.consoleClientId, accountId: user.id, scope, ...extra })
}

/** A JSON request to /api/v2 as a world user, with a request id of its own (to find its audit entries). */
export async function worldApiRequest(
  app: App,
  publicUrl: string,
  world: World,
  user: WorldUser,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
) {
  const requestId = `world-${randomUUID()}`
  const res = await app.inject({
    method,
    url: `/api/v2${url}`,
    headers: {
      authorization: `Bearer ${await userToken(app, publicUrl, world, user)}`,
      'x-request-id': requestId,
    },
    ...(body !== undefined ? { payload: body as object } : {}),
  })
  return {
    status: res.statusCode,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are walked loosely in tests
    body: (res.body ? res.json() : undefined) as any,
    raw: res.body,
    requestId,
  }
}
