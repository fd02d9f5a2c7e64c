// `vigil seed-demo` builds the SRS's demo world idempotently; after a restart the demo users
// still sign in (the clinician with TOTP) and the demo device gets a token with its secret.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import {
  childEnv,
  CLI_ARGS,
  removeDir,
  run,
  startServer,
  stopServer,
  tempDir,
  type Serving,
} from '../integration/server-process.ts'
import { signInThroughForms } from '../support/identity.ts'
import { freePort } from '../support/ports.ts'
import { ownDatabase, type OwnDatabase } from '../support/own-database.ts'

interface World {
  organisation: { id: string; name: string }
  users: Record<
    'admin' | 'clinician' | 'patient' | 'otherPatient' | 'auditor',
    { id: string; email: string; role: string; totpSecret?: string }
  >
  clients: {
    demoApp: { clientId: string }
    device: {
      clientId: string
      clientSecret: string
      boundTo: string
      patientRecordId: string
      scope: string
    }
    smartApp: { clientId: string; scope: string; defaultScope: string }
    backend: { clientId: string; privateJwk: Record<string, string>; scope: string }
  }
  readings: { patient: string; days: number; count: number }
  patients: { patient: string; otherPatient: string }
}

const PASSWORD = 'demo password for the seed test 42'

describe('vigil seed-demo', () => {
  let dataDir: string
  let database: OwnDatabase | undefined
  let port: number
  let env: Record<string, string>
  let server: Serving | undefined

  before(async () => {
    dataDir = tempDir('seed-demo')
    database = await ownDatabase('vigil_demo')
    port = await freePort()
    env = childEnv(
      dataDir,
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // Its own database: the demo world's fixed users and clients must not meet another test's.
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      },
      { externalServices: true },
    )
  })
  after(async () => {
    if (server) await stopServer(server.proc)
    removeDir(dataDir)
    await database?.drop()
  })

  const seed = async () => {
    const res = await run(process.execPath, [...CLI_ARGS, 'seed-demo', '--password', PASSWORD], {
      env,
      timeoutMs: 120_000,
    })
    assert.equal(res.code, 0, res.stderr)
    return JSON.parse(res.stdout) as World
  }

  let world: World

  test('[SRS-OAUTH-009] seed-demo twice prints the same ids and secrets', async () => {
    world = await seed()
    const again = await seed()
    assert.deepEqual(again, world)
    assert.equal(world.organisation.name, 'Demo Clinic')
    assert.deepEqual(
      Object.values(world.users)
        .map((u) => u.email)
        .sort(),
      [
        'admin@demo.test',
        'auditor@demo.test',
        'clinician@demo.test',
        'other.patient@demo.test',
        'patient@demo.test',
      ],
    )
    assert.ok(
      world.users.admin.totpSecret && world.users.clinician.totpSecret,
      'admin and clinician have TOTP',
    )
    assert.equal(world.users.patient.totpSecret, undefined)
    assert.equal(world.clients.demoApp.clientId, 'demo-app')
    assert.equal(world.clients.device.clientId, 'demo-glucometer-1')
    assert.equal(world.clients.device.boundTo, world.users.patient.id)
    assert.ok(!JSON.stringify(world).includes(PASSWORD), 'the password is not echoed')
  })

  test('[SRS-OAUTH-009] after a restart the demo clinician signs in with TOTP and the device client gets a token', async () => {
    server = await startServer(env)
    const issuer = `http://127.0.0.1:${port}`
    const app = await client.discovery(new URL(issuer), 'demo-app', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    })
    const verifier = client.randomPKCECodeVerifier()
    const redirect = 'http://127.0.0.1:51234/callback'
    const url = client.buildAuthorizationUrl(app, {
      redirect_uri: redirect,
      scope: 'openid account:read device-data:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's1',
    })
    const landed = await signInThroughForms(issuer, url.href, {
      email: 'clinician@demo.test',
      password: PASSWORD,
      totpSecret: world.users.clinician.totpSecret,
    })
    assert.ok(landed.url.startsWith(redirect), landed.page?.slice(0, 300))
    const tokens = await client.authorizationCodeGrant(app, new URL(landed.url), {
      pkceCodeVerifier: verifier,
      expectedState: 's1',
    })
    assert.equal(tokens.claims()?.sub, world.users.clinician.id)

    const device = await client.discovery(
      new URL(issuer),
      world.clients.device.clientId,
      undefined,
      client.ClientSecretBasic(world.clients.device.clientSecret),
      {
        execute: [client.allowInsecureRequests],
      },
    )
    const deviceTokens = await client.clientCredentialsGrant(device, { scope: 'device-data:write' })
    assert.ok(deviceTokens.access_token)

    // The demo world's links: the glucometer writes for the demo patient, and the clinician (in
    // that patient's care team) reads it; the other patient is no one the clinician may see.
    assert.equal(world.clients.device.patientRecordId, world.patients.patient)
    const posted = await fetch(`${issuer}/api/v2/device-data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${deviceTokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        readings: [
          {
            id: 'seed-test-1',
            code: '2339-0',
            value: 111,
            unit: 'mg/dL',
            effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
          },
        ],
      }),
    })
    assert.equal(posted.status, 200, await posted.clone().text())
    // The seed's 30 days of readings come first in time order: read from just before the new one.
    const since = encodeURIComponent(new Date(Date.now() - 10 * 60_000).toISOString())
    const read = (patient: string) =>
      fetch(`${issuer}/api/v2/device-data?patient=${patient}&from=${since}`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
    const mine = await read(world.patients.patient)
    const mineText = await mine.text()
    assert.equal(mine.status, 200, mineText.slice(0, 300))
    assert.ok(mineText.includes('seed-test-1'), `the new reading is in the page: ${mineText.slice(0, 600)}`)
    assert.equal((await read(world.patients.otherPatient)).status, 404)
  })

  test("[SRS-OAUTH-312] the demo world reaches every surface: the backend service signs with its printed JWK and reads 30 days of the patient's readings on /fhir/R4; the auditor reads the trail; the SMART app is registered with default scopes", async () => {
    const issuer = `http://127.0.0.1:${port}`
    assert.equal(world.users.auditor.role, 'auditor')
    assert.ok(world.users.auditor.totpSecret)
    assert.equal(world.readings.patient, world.patients.patient)
    assert.equal(world.readings.days, 30)
    assert.ok(world.readings.count >= 29 * 7, `readings: ${world.readings.count}`)
    assert.equal(world.clients.smartApp.clientId, 'demo-smart-app')
    assert.ok(
      world.clients.smartApp.scope.split(' ').includes('launch') &&
        world.clients.smartApp.defaultScope.split(' ').includes('patient/*.rs'),
    )
    // The backend service, exactly as the README walks it: openid-client with private_key_jwt, no scope.
    const key = await crypto.subtle.importKey(
      'jwk',
      world.clients.backend.privateJwk,
      { name: 'ECDSA', namedCurve: 'P-384' },
      false,
      ['sign'],
    )
    const backend = await client.discovery(
      new URL(issuer),
      world.clients.backend.clientId,
      undefined,
      client.PrivateKeyJwt(key),
      { execute: [client.allowInsecureRequests] },
    )
    const t = await client.clientCredentialsGrant(backend)
    assert.equal(t.scope, 'system/*.rs')
    const fhir = (path: string) =>
      fetch(`${issuer}/fhir/R4/${path}`, { headers: { authorization: `Bearer ${t.access_token}` } })
    for (const code of ['2339-0', '85354-9', '8867-4']) {
      const bundle = (await (
        await fhir(
          `Observation?patient=${world.patients.patient}&code=http://loinc.org|${code}&date=ge${new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)}&_count=200`,
        )
      ).json()) as { entry?: unknown[] }
      assert.ok(
        (bundle.entry?.length ?? 0) >= 29 * (code === '2339-0' ? 3 : 2) - 3,
        `${code}: ${bundle.entry?.length}`,
      )
    }
    assert.equal((await fhir(`Patient/${world.patients.patient}`)).status, 200)
    // The auditor signs in with TOTP (demo-app) and reads the trail.
    const app = await client.discovery(new URL(issuer), 'demo-app', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    })
    const verifier = client.randomPKCECodeVerifier()
    const redirect = 'http://127.0.0.1:51235/callback'
    const url = client.buildAuthorizationUrl(app, {
      redirect_uri: redirect,
      scope: 'openid audit:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's2',
    })
    const landed = await signInThroughForms(issuer, url.href, {
      email: 'auditor@demo.test',
      password: PASSWORD,
      totpSecret: world.users.auditor.totpSecret,
    })
    assert.ok(landed.url.startsWith(redirect), landed.page?.slice(0, 300))
    const tokens = await client.authorizationCodeGrant(app, new URL(landed.url), {
      pkceCodeVerifier: verifier,
      expectedState: 's2',
    })
    assert.equal(tokens.claims()?.sub, world.users.auditor.id)
    const trail = await fetch(`${issuer}/api/v2/audit/entries?limit=5`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(trail.status, 200, await trail.clone().text())
  })

  test('[SRS-OAUTH-009] seed-demo is refused in production', async () => {
    const res = await run(process.execPath, [...CLI_ARGS, 'seed-demo', '--password', PASSWORD], {
      env: {
        ...env,
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://vigil.example.com',
        ENCRYPTION_KEYRING: `prod-1:${Buffer.alloc(32, 3).toString('base64')}`,
        COOKIE_SECRET: 'p'.repeat(40),
        METRICS_TOKEN: 'm'.repeat(40),
        SMTP_URL: 'smtp://mail.example.com:25',
      },
    })
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /refused when NODE_ENV=production/)
  })
})
