// `vigil seed-demo --password <pw>`: the demo world (SRS §Product contract), made idempotently. Running it
// twice gives the same ids and secrets: TOTP and client secrets are derived from the demo
// password (HKDF), so they can be printed again without reading any secret back from storage.
// Refused in production (the CLI checks NODE_ENV before calling this).

import { createECDH, hkdfSync, randomUUID } from 'node:crypto'
import { keyringSealer, type Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { createClientStore } from '../../security/oauth-server/index.ts'
import {
  createPasswordHasher,
  createSecondFactorService,
  createUserService,
  totpCode,
  type Role,
} from '../users/index.ts'
import { createDataKeyStore, createPatientCipher, createPatientService } from '../patients/index.ts'
import { sealReading, type ReadingContent } from '../device-data/index.ts'
import * as repo from './repository.ts'

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
export const DEMO_SMART_APP_CLIENT_ID = 'demo-smart-app'
export const DEMO_BACKEND_CLIENT_ID = 'demo-backend'
/** Days of readings the demo patient has (glucose, blood pressure and heart rate, ending today). */
export const DEMO_READING_DAYS = 30

interface DemoUserSpec {
  readonly key: 'admin' | 'clinician' | 'patient' | 'otherPatient' | 'auditor'
  readonly email: string
  /** Staff only: a patient's name is PHI and lives in their sealed demographics, never in users.display_name (ADR-0009). */
  readonly displayName?: string
  readonly role: Role
  readonly inOrganisation: boolean
  readonly totp: boolean
}

const USERS: readonly DemoUserSpec[] = [
  {
    key: 'admin',
    email: 'admin@demo.test',
    displayName: 'Demo Admin',
    role: 'admin',
    inOrganisation: false,
    totp: true,
  },
  {
    key: 'clinician',
    email: 'clinician@demo.test',
    displayName: 'Demo Clinician',
    role: 'clinician',
    inOrganisation: true,
    totp: true,
  },
  { key: 'patient', email: 'patient@demo.test', role: 'patient', inOrganisation: true, totp: false },
  {
    key: 'otherPatient',
    email: 'other.patient@demo.test',
    role: 'patient',
    inOrganisation: true,
    totp: false,
  },
  {
    key: 'auditor',
    email: 'auditor@demo.test',
    displayName: 'Demo Auditor',
    role: 'auditor',
    inOrganisation: false,
    totp: true,
  },
]

export interface DemoWorld {
  readonly organisation: { readonly id: string; readonly name: string }
  readonly users: Record<DemoUserSpec['key'], { id: string; email: string; role: Role; totpSecret?: string }>
  readonly clients: {
    readonly demoApp: {
      clientId: string
      redirectUris: readonly string[]
      scope: string
      defaultScope: string
    }
    readonly device: {
      clientId: string
      clientSecret: string
      boundTo: string
      deviceId: string | null
      patientRecordId: string | null
      scope: string
      defaultScope: string
    }
    /** A third-party SMART app (public, PKCE): standalone and EHR launch on /fhir/R4. */
    readonly smartApp: {
      clientId: string
      redirectUris: readonly string[]
      scope: string
      defaultScope: string
      fhirBase: string
    }
    /** A SMART backend service (private_key_jwt with ES384): system/*.rs within Demo Clinic. */
    readonly backend: {
      clientId: string
      tokenEndpointAuthMethod: 'private_key_jwt'
      alg: 'ES384'
      privateJwk: Record<string, string>
      scope: string
      defaultScope: string
    }
  }
  /** The demo patient's readings: 30 days of glucose, blood pressure and heart rate. */
  readonly readings: { readonly patient: string; readonly days: number; readonly count: number }
  readonly notes: readonly string[]
  /** Patient record ids (issue 4): the demo patients' own records in Demo Clinic. */
  readonly patients: { readonly patient: string; readonly otherPatient: string }
}

/**
 * The demo backend's ES384 key pair, derived from the demo password (HKDF → P-384 scalar), so a
 * second run prints the same private JWK. A demo credential only: real services bring their own key.
 */
function demoBackendKey(password: string): Record<string, string> {
  const d = derive(password, `client-key:${DEMO_BACKEND_CLIENT_ID}`, 48)
  d[0] = (d[0] ?? 0) & 0x7f // below the P-384 group order
  const ecdh = createECDH('secp384r1')
  ecdh.setPrivateKey(d)
  const pub = ecdh.getPublicKey() // 0x04 || x || y
  return {
    kty: 'EC',
    crv: 'P-384',
    x: pub.subarray(1, 49).toString('base64url'),
    y: pub.subarray(49).toString('base64url'),
    d: d.toString('base64url'),
    kid: 'demo-backend-1',
    alg: 'ES384',
    use: 'sig',
  }
}

export async function seedDemo(deps: {
  db: Database
  keyring: Keyring
  password: string
  clock?: () => Date
}): Promise<DemoWorld> {
  const clock = deps.clock ?? (() => new Date())
  const sealer = keyringSealer(deps.keyring)
  const users = createUserService({ db: deps.db, hasher: createPasswordHasher(), clock })
  const secondFactor = createSecondFactorService({ db: deps.db, sealer, clock })
  const clients = createClientStore({ db: deps.db, sealer })

  const organisation =
    (await users.findOrganisationByName(DEMO_ORGANISATION)) ??
    (await users.createOrganisation(DEMO_ORGANISATION))

  const seeded = {} as DemoWorld['users']
  for (const spec of USERS) {
    const grant = { role: spec.role, organisationId: spec.inOrganisation ? organisation.id : null }
    const user =
      (await users.findByEmail(spec.email)) ??
      (await users.createUser({
        email: spec.email,
        password: deps.password,
        displayName: spec.displayName,
        roles: [grant],
        emailVerified: true,
      }))
    await users.addRole(user.id, grant)
    let totpSecret: string | undefined
    if (spec.totp) {
      totpSecret = base32(derive(deps.password, `totp:${spec.email}`, 20))
      if (!(await secondFactor.isEnrolled(user.id))) {
        await secondFactor.startTotpEnrolment({ userId: user.id, email: user.email, secret: totpSecret })
        // Confirm with the previous step's code so the current one stays free for a first login.
        const confirmed = await secondFactor.confirmTotpEnrolment(
          user.id,
          totpCode(totpSecret, new Date(clock().getTime() - 30_000)),
        )
        if (!confirmed.ok) throw new Error(`could not enrol the demo TOTP for ${spec.email}`)
      }
    }
    seeded[spec.key] = {
      id: user.id,
      email: user.email,
      role: spec.role,
      ...(totpSecret ? { totpSecret } : {}),
    }
  }

  const redirectUris = ['http://127.0.0.1/callback', 'com.example.vigil:/callback']
  // Vigil's own app for every kind of demo user; the policy decides what each may do with these scopes.
  const demoAppScope =
    'openid offline_access profile email account:read device-data:read device-data:write patients:read reports:read consent:manage audit:read'
  const demoAppDefault = 'openid offline_access account:read device-data:read device-data:write'
  await clients.upsert({
    clientId: DEMO_APP_CLIENT_ID,
    description:
      'Demo patient app: public client, authorization code + PKCE, loopback redirects on any port (RFC 8252)',
    metadata: {
      client_id: DEMO_APP_CLIENT_ID,
      client_name: 'Vigil demo app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      scope: demoAppScope,
      default_scope: demoAppDefault,
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
      default_scope: deviceScope,
    },
  })

  // --- SMART App Launch 2.0 (issue 13): a third-party SMART app and a backend service -------------
  const smartRedirects = ['http://127.0.0.1/callback']
  const smartScope =
    'openid fhirUser launch launch/patient patient/*.rs user/*.rs offline_access online_access'
  const smartDefault = 'openid fhirUser launch/patient patient/*.rs offline_access'
  await clients.upsert({
    clientId: DEMO_SMART_APP_CLIENT_ID,
    description:
      'Demo SMART app (third party): public client, PKCE, standalone and EHR launch, loopback redirects on any port',
    metadata: {
      client_id: DEMO_SMART_APP_CLIENT_ID,
      client_name: 'Demo SMART app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: smartRedirects,
      scope: smartScope,
      default_scope: smartDefault,
    },
  })
  const backendKey = demoBackendKey(deps.password)
  const { d: _private, ...backendPublic } = backendKey
  const backendScope = 'system/*.rs'
  await clients.upsert({
    clientId: DEMO_BACKEND_CLIENT_ID,
    description: 'Demo SMART backend service: private_key_jwt (ES384), system/*.rs within Demo Clinic',
    // A backend service acts within one organisation (policy rule service.own-organisation).
    organisationId: organisation.id,
    metadata: {
      client_id: DEMO_BACKEND_CLIENT_ID,
      client_name: 'Demo backend service',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES384',
      jwks: { keys: [backendPublic] },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: backendScope,
      default_scope: backendScope,
    },
  })

  // --- Patient records and the care team (issue 4, care module) ---------------------------------
  // Idempotent: each demo patient's record is found by its user id first, so a second run prints
  // the same ids. Demographics are sealed with the patient's own data key (ADR-0009).
  const dataKeys = createDataKeyStore({ db: deps.db, root: sealer })
  const patientRecords = createPatientService({
    db: deps.db,
    keys: dataKeys,
    cipher: createPatientCipher(dataKeys),
    keyring: deps.keyring,
    clock,
  })
  const recordFor = async (userId: string, given: string, family: string): Promise<string> => {
    const existing = await patientRecords.byUserId(userId)
    if (existing) return existing.id
    const created = await deps.db.transaction((tx) =>
      patientRecords.create(
        {
          userId,
          organisationId: organisation.id,
          demographics: { name: { given: [given], family }, gender: 'unknown' },
        },
        tx,
      ),
    )
    return created.id
  }
  const patientIds = {
    patient: await recordFor(seeded.patient.id, 'Demo', 'Patient'),
    otherPatient: await recordFor(seeded.otherPatient.id, 'Other', 'Patient'),
  }
  await repo.addCareTeamMember(deps.db, {
    patientId: patientIds.patient,
    userId: seeded.clinician.id,
    organisationId: organisation.id,
  })
  // --- end of the care module's block -------------------------------------------------------------

  // --- The demo glucometer in the device registry, bound to the demo patient (issue 5) -------------
  // Idempotent: the device row is found by its client id, and bound only while it has no binding.
  const demoPatientRecord = await repo.patientRecordOfUser(deps.db, seeded.patient.id)
  if (demoPatientRecord) {
    await deps.db.transaction(async (tx) => {
      await repo.ensureDemoDevice(tx, DEMO_DEVICE_CLIENT_ID, organisation.id)
      await repo.bindDeviceIfUnbound(tx, DEMO_DEVICE_CLIENT_ID, demoPatientRecord, clock())
    })
  }
  // --- end of the device registry's block ----------------------------------------------------------
  const demoDevice = await repo.deviceOfClient(deps.db, DEMO_DEVICE_CLIENT_ID)

  // --- The demo patient's last 30 days: glucose (3 a day), blood pressure and heart rate (morning and
  // evening), from the demo glucometer's record, so every read surface has data. Idempotent: written
  // once (a second run finds them by their client reading ids and adds nothing).
  const readingCount = await seedDemoReadings(
    deps.db,
    deps.keyring,
    createPatientCipher(dataKeys),
    patientIds.patient,
    demoDevice ?? null,
    clock(),
    deps.password,
  )

  return {
    organisation: { id: organisation.id, name: organisation.name },
    patients: patientIds,
    users: seeded,
    clients: {
      demoApp: {
        clientId: DEMO_APP_CLIENT_ID,
        redirectUris,
        scope: demoAppScope,
        defaultScope: demoAppDefault,
      },
      device: {
        clientId: DEMO_DEVICE_CLIENT_ID,
        clientSecret: deviceSecret,
        boundTo: seeded.patient.id,
        deviceId: demoDevice ?? null,
        patientRecordId: demoPatientRecord ?? null,
        scope: deviceScope,
        defaultScope: deviceScope,
      },
      smartApp: {
        clientId: DEMO_SMART_APP_CLIENT_ID,
        redirectUris: smartRedirects,
        scope: smartScope,
        defaultScope: smartDefault,
        fhirBase: '/fhir/R4 under PUBLIC_URL',
      },
      backend: {
        clientId: DEMO_BACKEND_CLIENT_ID,
        tokenEndpointAuthMethod: 'private_key_jwt',
        alg: 'ES384',
        privateJwk: backendKey,
        scope: backendScope,
        defaultScope: backendScope,
      },
    },
    readings: { patient: patientIds.patient, days: DEMO_READING_DAYS, count: readingCount },
    notes: [
      'clinician@demo.test is in the care team of patient@demo.test; other.patient@demo.test has no link to the clinician.',
      'demo-glucometer-1 is bound to the patient record of patient@demo.test: POST /api/v2/device-data with its client-credentials token.',
      'auditor@demo.test reads the audit trail (GET /api/v2/audit/entries, /fhir/R4/AuditEvent) after signing in with TOTP.',
      'demo-smart-app is a third-party SMART app: standalone launch as patient@demo.test, EHR launch from POST /api/v2/smart/launch as clinician@demo.test.',
      'demo-backend signs a client assertion (RFC 7523) with privateJwk and gets system/*.rs for Demo Clinic on /fhir/R4.',
    ],
  }
}

/** Glucose three times a day, blood pressure and heart rate morning and evening, for the last 30 days. */
async function seedDemoReadings(
  db: Database,
  keyring: Keyring,
  cipher: ReturnType<typeof createPatientCipher>,
  patientId: string,
  deviceId: string | null,
  now: Date,
  password: string,
): Promise<number> {
  if (!deviceId) return 0
  const existing = await repo.countSeededReadings(db, deviceId)
  // Values vary by day deterministically (from the demo password), the same on every run.
  const noise = derive(password, 'readings', DEMO_READING_DAYS * 8)
  const day0 =
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (DEMO_READING_DAYS - 1) * 86_400_000
  const planned: Array<{ key: string; code: string; at: Date; content: ReadingContent }> = []
  for (let day = 0; day < DEMO_READING_DAYS; day++) {
    const n = (i: number) => noise[day * 8 + i] ?? 0
    const at = (hour: number) => new Date(day0 + day * 86_400_000 + hour * 3_600_000)
    for (const [i, hour] of [
      [0, 7],
      [1, 12],
      [2, 19],
    ] as const)
      planned.push({
        key: `seed-demo-glucose-${day}-${hour}`,
        code: '2339-0',
        at: at(hour),
        content: { value: 85 + (n(i) % 70), unit: 'mg/dL' },
      })
    for (const [i, hour] of [
      [3, 8],
      [4, 20],
    ] as const) {
      planned.push({
        key: `seed-demo-bp-${day}-${hour}`,
        code: '85354-9',
        at: at(hour),
        content: {
          components: [
            { code: '8480-6', value: 112 + (n(i) % 28), unit: 'mm[Hg]' },
            { code: '8462-4', value: 70 + (n(i) % 18), unit: 'mm[Hg]' },
          ],
        },
      })
      planned.push({
        key: `seed-demo-hr-${day}-${hour}`,
        code: '8867-4',
        at: at(hour),
        content: { value: 58 + (n(i + 2) % 35), unit: '/min' },
      })
    }
  }
  const due = planned.filter((p) => p.at.getTime() <= now.getTime())
  if (existing > 0) return existing
  await db.transaction(async (tx) => {
    for (const p of due) {
      const id = randomUUID()
      const sealed = await sealReading(cipher, patientId, id, p.content, tx)
      await repo.insertSeededReading(tx, {
        id,
        patientId,
        deviceId,
        code: p.code,
        category: p.code === '2339-0' ? 'laboratory' : 'vital-signs',
        at: p.at,
        clientReadingId: p.key,
        valueSealed: sealed,
        contentIndex: keyring.blindIndex(
          JSON.stringify({ key: p.key, content: p.content }),
          'reading-content',
        ),
      })
    }
  })
  return due.length
}
