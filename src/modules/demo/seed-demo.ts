// `vigil seed-demo --password <pw>`: the demo world (SRS §Product contract), made idempotently. Running it
// twice gives the same ids and secrets: TOTP and client secrets are derived from the demo
// password (HKDF), so they can be printed again without reading any secret back from storage.
// Refused in production (the CLI checks NODE_ENV before calling this).

import { hkdfSync } from 'node:crypto'
import { keyringSealer, type Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { createClientStore } from '../../security/oauth-server/index.ts'
import { createPasswordHasher, createSecondFactorService, createUserService, totpCode, type Role } from '../users/index.ts'
import { createDataKeyStore, createPatientCipher, createPatientService } from '../patients/index.ts'

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function derive(password: string, label: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', password, 'vigil demo seed', label, bytes))
}

function base32(buf: Buffer): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of buf) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

export const DEMO_ORGANISATION = 'Demo Clinic'
export const DEMO_APP_CLIENT_ID = 'demo-app'
export const DEMO_DEVICE_CLIENT_ID = 'demo-glucometer-1'

interface DemoUserSpec {
  readonly key: 'admin' | 'clinician' | 'patient' | 'otherPatient'
  readonly email: string
  /** Staff only: a patient's name is PHI and lives in their sealed demographics, never in users.display_name (ADR-0009). */
  readonly displayName?: string
  readonly role: Role
  readonly inOrganisation: boolean
  readonly totp: boolean
}

const USERS: readonly DemoUserSpec[] = [
  { key: 'admin', email: 'admin@demo.test', displayName: 'Demo Admin', role: 'admin', inOrganisation: false, totp: true },
  { key: 'clinician', email: 'clinician@demo.test', displayName: 'Demo Clinician', role: 'clinician', inOrganisation: true, totp: true },
  { key: 'patient', email: 'patient@demo.test', role: 'patient', inOrganisation: true, totp: false },
  { key: 'otherPatient', email: 'other.patient@demo.test', role: 'patient', inOrganisation: true, totp: false },
]

export interface DemoWorld {
  readonly organisation: { readonly id: string; readonly name: string }
  readonly users: Record<DemoUserSpec['key'], { id: string; email: string; role: Role; totpSecret?: string }>
  readonly clients: {
    readonly demoApp: { clientId: string; redirectUris: readonly string[] }
    readonly device: { clientId: string; clientSecret: string; boundTo: string; deviceId: string | null; patientRecordId: string | null; scope: string }
  }
  readonly notes: readonly string[]
  /** Patient record ids (issue 4): the demo patients' own records in Demo Clinic. */
  readonly patients: { readonly patient: string; readonly otherPatient: string }
}

export async function seedDemo(deps: { db: Database; keyring: Keyring; password: string; clock?: () => Date }): Promise<DemoWorld> {
  const clock = deps.clock ?? (() => new Date())
  const sealer = keyringSealer(deps.keyring)
  const users = createUserService({ db: deps.db, hasher: createPasswordHasher(), clock })
  const secondFactor = createSecondFactorService({ db: deps.db, sealer, clock })
  const clients = createClientStore({ db: deps.db, sealer })

  const organisation = (await users.findOrganisationByName(DEMO_ORGANISATION)) ?? (await users.createOrganisation(DEMO_ORGANISATION))

  const seeded = {} as DemoWorld['users']
  for (const spec of USERS) {
    const grant = { role: spec.role, organisationId: spec.inOrganisation ? organisation.id : null }
    const user =
      (await users.findByEmail(spec.email)) ??
      (await users.createUser({ email: spec.email, password: deps.password, displayName: spec.displayName, roles: [grant], emailVerified: true }))
    await users.addRole(user.id, grant)
    let totpSecret: string | undefined
    if (spec.totp) {
      totpSecret = base32(derive(deps.password, `totp:${spec.email}`, 20))
      if (!(await secondFactor.isEnrolled(user.id))) {
        await secondFactor.startTotpEnrolment({ userId: user.id, email: user.email, secret: totpSecret })
        // Confirm with the previous step's code so the current one stays free for a first login.
        const confirmed = await secondFactor.confirmTotpEnrolment(user.id, totpCode(totpSecret, new Date(clock().getTime() - 30_000)))
        if (!confirmed.ok) throw new Error(`could not enrol the demo TOTP for ${spec.email}`)
      }
    }
    seeded[spec.key] = { id: user.id, email: user.email, role: spec.role, ...(totpSecret ? { totpSecret } : {}) }
  }

  const redirectUris = ['http://127.0.0.1/callback', 'com.example.vigil:/callback']
  await clients.upsert({
    clientId: DEMO_APP_CLIENT_ID,
    description: 'Demo patient app: public client, authorization code + PKCE, loopback redirects on any port (RFC 8252)',
    metadata: {
      client_id: DEMO_APP_CLIENT_ID,
      client_name: 'Vigil demo app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      scope: 'openid offline_access profile email account:read device-data:read device-data:write',
      first_party: true,
    },
  })

  const deviceSecret = derive(deps.password, `client:${DEMO_DEVICE_CLIENT_ID}`, 32).toString('base64url')
  const deviceScope = 'device-data:write account:read'
  await clients.upsert({
    clientId: DEMO_DEVICE_CLIENT_ID,
    secret: deviceSecret,
    description: `Demo glucometer bound to ${seeded.patient.email}: confidential client posting readings`,
    metadata: {
      client_id: DEMO_DEVICE_CLIENT_ID,
      client_name: 'Demo glucometer',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: deviceScope,
    },
  })

  // --- Patient records and the care team (issue 4, care module) ---------------------------------
  // Idempotent: each demo patient's record is found by its user id first, so a second run prints
  // the same ids. Demographics are sealed with the patient's own data key (ADR-0009).
  const dataKeys = createDataKeyStore({ db: deps.db, root: sealer })
  const patientRecords = createPatientService({ db: deps.db, keys: dataKeys, cipher: createPatientCipher(dataKeys), keyring: deps.keyring, clock })
  const recordFor = async (userId: string, given: string, family: string): Promise<string> => {
    const existing = await patientRecords.byUserId(userId)
    if (existing) return existing.id
    const created = await deps.db.transaction((tx) => patientRecords.create({ userId, organisationId: organisation.id, demographics: { name: { given: [given], family }, gender: 'unknown' } }, tx))
    return created.id
  }
  const patientIds = {
    patient: await recordFor(seeded.patient.id, 'Demo', 'Patient'),
    otherPatient: await recordFor(seeded.otherPatient.id, 'Other', 'Patient'),
  }
  await deps.db.query(
    'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3) ON CONFLICT (patient_id, user_id) DO NOTHING',
    [patientIds.patient, seeded.clinician.id, organisation.id],
  )
  // --- end of the care module's block -------------------------------------------------------------

  // --- The demo glucometer in the device registry, bound to the demo patient (issue 5) -------------
  // Idempotent: the device row is found by its client id, and bound only while it has no binding.
  const demoPatientRecord = (await deps.db.query<{ id: string }>('SELECT id FROM patients WHERE user_id = $1', [seeded.patient.id])).rows[0]
  if (demoPatientRecord) {
    await deps.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO devices (id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version)
         SELECT gen_random_uuid(), $1, $2, 'Vigil Demo', 'Glucometer', 'DEMO-GLUCOMETER-1', 'glucometer', '1.0.0'
          WHERE NOT EXISTS (SELECT 1 FROM devices WHERE client_id = $1)
         ON CONFLICT (manufacturer, model, serial) DO NOTHING`,
        [DEMO_DEVICE_CLIENT_ID, organisation.id],
      )
      await tx.query(
        `INSERT INTO device_bindings (id, device_id, patient_id, bound_at, bound_by)
         SELECT gen_random_uuid(), d.id, $2, $3, 'seed-demo' FROM devices d
          WHERE d.client_id = $1 AND NOT EXISTS (SELECT 1 FROM device_bindings b WHERE b.device_id = d.id AND b.unbound_at IS NULL)`,
        [DEMO_DEVICE_CLIENT_ID, demoPatientRecord.id, clock().toISOString()],
      )
    })
  }
  // --- end of the device registry's block ----------------------------------------------------------
  const demoDevice = (await deps.db.query<{ id: string }>('SELECT id FROM devices WHERE client_id = $1', [DEMO_DEVICE_CLIENT_ID])).rows[0]

  return {
    organisation: { id: organisation.id, name: organisation.name },
    patients: patientIds,
    users: seeded,
    clients: {
      demoApp: { clientId: DEMO_APP_CLIENT_ID, redirectUris },
      device: { clientId: DEMO_DEVICE_CLIENT_ID, clientSecret: deviceSecret, boundTo: seeded.patient.id, deviceId: demoDevice?.id ?? null, patientRecordId: demoPatientRecord?.id ?? null, scope: deviceScope },
    },
    notes: [
      'clinician@demo.test is in the care team of patient@demo.test; other.patient@demo.test has no link to the clinician.',
      'demo-glucometer-1 is bound to the patient record of patient@demo.test: POST /api/v2/device-data with its client-credentials token.',
    ],
  }
}
