// `vigil seed-demo --password <pw>`: the demo world of SPEC.md, created idempotently. Running it
// twice gives the same ids and secrets: TOTP and client secrets are derived from the demo
// password (HKDF), so they can be printed again without reading any secret back from storage.
// Refused in production (the CLI checks NODE_ENV before calling this).

import { hkdfSync } from 'node:crypto'
import { keyringSealer, type Keyring } from '../../platform/crypto/keyring.ts'
import type { Database } from '../../platform/db/index.ts'
import { createClientStore } from '../../security/oauth-server/index.ts'
import { createPasswordHasher, createSecondFactorService, createUserService, totpCode, type Role } from '../users/index.ts'

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
  readonly displayName: string
  readonly role: Role
  readonly inOrganisation: boolean
  readonly totp: boolean
}

const USERS: readonly DemoUserSpec[] = [
  { key: 'admin', email: 'admin@demo.test', displayName: 'Demo Admin', role: 'admin', inOrganisation: false, totp: true },
  { key: 'clinician', email: 'clinician@demo.test', displayName: 'Demo Clinician', role: 'clinician', inOrganisation: true, totp: true },
  { key: 'patient', email: 'patient@demo.test', displayName: 'Demo Patient', role: 'patient', inOrganisation: true, totp: false },
  { key: 'otherPatient', email: 'other.patient@demo.test', displayName: 'Other Patient', role: 'patient', inOrganisation: true, totp: false },
]

export interface DemoWorld {
  readonly organisation: { readonly id: string; readonly name: string }
  readonly users: Record<DemoUserSpec['key'], { id: string; email: string; role: Role; totpSecret?: string }>
  readonly clients: {
    readonly demoApp: { clientId: string; redirectUris: readonly string[] }
    readonly device: { clientId: string; clientSecret: string; boundTo: string; scope: string }
  }
  readonly notes: readonly string[]
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

  return {
    organisation: { id: organisation.id, name: organisation.name },
    users: seeded,
    clients: {
      demoApp: { clientId: DEMO_APP_CLIENT_ID, redirectUris },
      device: { clientId: DEMO_DEVICE_CLIENT_ID, clientSecret: deviceSecret, boundTo: seeded.patient.id, scope: deviceScope },
    },
    notes: [
      'Care teams (clinician ↔ patient) and the device registry binding arrive with the authorization and device-data issues; the ids above are stable for them.',
    ],
  }
}
