/* eslint-disable @typescript-eslint/no-explicit-any -- discovery and token JSON are walked loosely */
// The SMART configuration lists exactly what works (issue 13, item 1; SMART App Launch 2.0 §2.0.2):
// beside `capabilities` (derived in smart-app-launch.test.ts), the client-authentication methods,
// their signing algorithms, the grant types, the response types and the PKCE methods are each
// derived here from what the token and authorization endpoints actually do, then compared with
// the document. `smart_style_url` is not offered (ADR-0026): neither discovery nor any token
// response carries it.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { exportJWK, generateKeyPair } from 'jose'
import * as client from 'openid-client'
import { serviceClientMetadata } from '../../src/modules/clients/index.ts'
import { normalizeScope, parseSmartScope } from '../../src/security/oauth-server/scopes.ts'
import { totpCode } from '../../src/modules/users/index.ts'
import { seedReadings } from '../support/fhir.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  postForm,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { mintToken } from '../support/world.ts'

describe('SMART discovery derived from behaviour', () => {
  let s: OAuthTestServer
  let fhirBase = ''
  let cfg: Record<string, any>
  let patientId = ''
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const publicApp = `public-app-${randomUUID()}`
  let organisation = ''

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    cfg = (await (await fetch(`${fhirBase}/.well-known/smart-configuration`)).json()) as Record<string, any>
    organisation = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `Discovery clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    patientId = (
      await s.app.vigil.modules.patients.create({
        organisationId: organisation,
        demographics: { name: { family: 'Discovered' } },
      })
    ).id
    await s.clients.upsert({
      clientId: publicApp,
      metadata: {
        client_id: publicApp,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: 'openid launch/patient patient/*.rs offline_access',
      },
    })
  })
  after(() => s.close())

  /** A backend service of the organisation, authenticating with `method` (and `alg` for private_key_jwt). */
  async function backendToken(method: 'client_secret_basic' | 'private_key_jwt', alg?: string) {
    const clientId = `backend-${method}-${alg ?? 'secret'}-${randomUUID()}`
    const base = {
      client_id: clientId,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'system/*.rs',
    }
    let auth: client.ClientAuth
    if (method === 'private_key_jwt') {
      // An Ed25519 key under its older name: a client that writes `EdDSA` in the header (as fhirclient's jose 4 does).
      const pair = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : (alg as string), { extractable: true })
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: `key-${alg}`, alg, use: 'sig' }
      await s.clients.upsert({
        clientId,
        metadata: {
          ...base,
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: alg as 'ES256',
          jwks: { keys: [jwk] },
        },
      })
      auth = client.PrivateKeyJwt(pair.privateKey, {
        [client.modifyAssertion]: (header) => {
          header.kid = `key-${alg}`
          if (alg === 'EdDSA') header.alg = 'EdDSA'
        },
      })
    } else {
      await s.clients.upsert({
        clientId,
        secret,
        metadata: { ...base, token_endpoint_auth_method: 'client_secret_basic' },
      })
      auth = client.ClientSecretBasic(secret)
    }
    await s.db.query('UPDATE oauth_clients SET organisation_id = $1 WHERE client_id = $2', [
      organisation,
      clientId,
    ])
    const config = await s.discover(clientId, auth)
    return client.clientCredentialsGrant(config, { scope: 'system/*.rs', aud: fhirBase } as Record<
      string,
      string
    >)
  }

  const tokenEndpoint = (params: Record<string, string>) =>
    fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }))

  test('[SRS-FHIR-525] the client-authentication methods, signing algorithms and grant types in the SMART configuration are exactly those the token endpoint honours', async () => {
    const methods = new Set<string>()
    const algs = new Set<string>()
    const grants = new Set<string>()
    // private_key_jwt with every algorithm a client may register: each gets a FHIR token that reads.
    for (const alg of [
      'ES256',
      'ES384',
      'ES512',
      'PS256',
      'PS384',
      'RS256',
      'RS384',
      'Ed25519',
      'EdDSA',
      'HS256',
    ]) {
      const tokens = await backendToken('private_key_jwt', alg).catch(() => undefined)
      if (!tokens) continue
      const read = await fetch(`${fhirBase}/Patient/${patientId}`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      assert.equal(read.status, 200, alg)
      assert.ok(!('smart_style_url' in tokens), 'no smart_style_url in a token response')
      algs.add(alg)
      methods.add('private_key_jwt')
      grants.add('client_credentials')
    }
    const basic = await backendToken('client_secret_basic')
    assert.ok(basic.access_token)
    methods.add('client_secret_basic')
    // A public client (none) is identified by client_id alone: a made-up code is invalid_grant, not invalid_client.
    const code = await tokenEndpoint({
      grant_type: 'authorization_code',
      client_id: publicApp,
      code: 'x'.repeat(43),
      redirect_uri: 'http://127.0.0.1:1/callback',
      code_verifier: 'v'.repeat(43),
    })
    assert.equal(code.body.error, 'invalid_grant')
    methods.add('none')
    grants.add('authorization_code')
    const refresh = await tokenEndpoint({
      grant_type: 'refresh_token',
      client_id: publicApp,
      refresh_token: 'x'.repeat(43),
    })
    assert.equal(refresh.body.error, 'invalid_grant')
    grants.add('refresh_token')
    // A grant type not offered is refused as such.
    const password = await tokenEndpoint({
      grant_type: 'password',
      client_id: publicApp,
      username: 'a',
      password: 'b',
    })
    assert.equal(password.body.error, 'unsupported_grant_type')

    assert.deepEqual([...cfg.token_endpoint_auth_methods_supported].sort(), [...methods].sort())
    assert.deepEqual([...cfg.token_endpoint_auth_signing_alg_values_supported].sort(), [...algs].sort())
    assert.deepEqual([...cfg.grant_types_supported].sort(), [...grants].sort())
  })

  test('[SRS-FHIR-525] response types and PKCE methods are those the authorization endpoint accepts; smart_style_url is not offered', async () => {
    const config = await s.discover(publicApp, client.None())
    const authorize = async (extra: Record<string, string>) => {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:49191/callback',
        scope: 'launch/patient patient/*.rs',
        aud: fhirBase,
        state: 'st',
        ...extra,
      })
      const res = await fetch(url, { redirect: 'manual' })
      const location = res.headers.get('location') ?? ''
      // The error comes back in the query, or in the fragment for a token response type.
      const at = URL.canParse(location) ? new URL(location) : undefined
      const error = at
        ? (at.searchParams.get('error') ?? new URLSearchParams(at.hash.slice(1)).get('error'))
        : null
      return { status: res.status, error, location }
    }
    const verifier = client.randomPKCECodeVerifier()
    const s256 = await authorize({
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    assert.equal(s256.error, null, 'S256 with response_type=code goes on to sign-in')
    assert.match(s256.location, /\/interaction\//)
    const plain = await authorize({
      response_type: 'code',
      code_challenge: verifier,
      code_challenge_method: 'plain',
    })
    assert.equal(plain.error, 'invalid_request', 'plain PKCE is refused')
    const none = await authorize({ response_type: 'code' })
    assert.equal(none.error, 'invalid_request', 'a public client without PKCE is refused')
    const token = await authorize({
      response_type: 'token',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    assert.equal(token.error, 'unsupported_response_type', `response_type=token refused: ${token.status}`)
    assert.deepEqual(cfg.code_challenge_methods_supported, ['S256'])
    assert.deepEqual(cfg.response_types_supported, ['code'])
    // smart_style_url (SMART §2.0.10, context-style) is not offered: nothing styles apps, so nothing claims to.
    assert.ok(!('smart_style_url' in cfg))
    assert.ok(!cfg.capabilities.includes('context-style'))
  })
})

// Every scope that discovery advertises (scopes_supported, at the FHIR base and the root) is read
// from the document at test time; for each, a real client (openid-client) obtains a token carrying
// it through the grant where it applies — authorization code + PKCE through the real sign-in pages
// for user, patient and context scopes, client credentials for system scopes — and uses it once.
// A scope added to discovery without a use below, or whose use fails, fails this test.
describe('SMART discovery: every advertised scope works', () => {
  let s: OAuthTestServer
  let fhirBase = ''
  let organisation = ''
  let patientId = ''
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let clinician: Awaited<ReturnType<typeof createTestUser>>
  let auditor: Awaited<ReturnType<typeof createTestUser>>
  const app = `every-scope-app-${randomUUID()}`
  const backend = `every-scope-backend-${randomUUID()}`
  const launcher = `every-scope-launcher-${randomUUID()}`
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const redirectUri = 'http://127.0.0.1:49181/callback'
  const jars = new Map<string, CookieJar>()
  let advertised: string[] = []

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    const atBase = (await (await fetch(`${fhirBase}/.well-known/smart-configuration`)).json()) as Record<
      string,
      any
    >
    const atRoot = (await (await fetch(`${s.issuer}/.well-known/smart-configuration`)).json()) as Record<
      string,
      any
    >
    advertised = [...new Set<string>([...atBase.scopes_supported, ...atRoot.scopes_supported])]
    organisation = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `Every scope clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    patient = await createTestUser(s.db, {
      email: `every-scope-patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: organisation }],
    })
    clinician = await createTestUser(s.db, {
      email: `every-scope-clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: organisation }],
      totp: true,
    })
    auditor = await createTestUser(s.db, {
      email: `every-scope-auditor-${randomUUID()}@demo.test`,
      roles: [{ role: 'auditor', organisationId: null }],
      totp: true,
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        userId: patient.id,
        organisationId: organisation,
        demographics: { name: { family: 'Scoped', given: ['Every'] } },
      })
    ).id
    await s.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, clinician.id, organisation],
    )
    await seedReadings(s.app, patientId, [
      { effectiveAt: new Date(Date.UTC(2026, 0, 1)), content: { value: 99, unit: 'mg/dL' } },
    ])
    // The app is registered for every advertised scope but the system ones; the backend for those.
    const system = advertised.filter((x) => x.startsWith('system/'))
    await s.clients.upsert({
      clientId: app,
      metadata: {
        client_id: app,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: advertised.filter((x) => !x.startsWith('system/')).join(' '),
        first_party: true,
      },
    })
    await s.clients.upsert({
      clientId: backend,
      secret,
      metadata: serviceClientMetadata(backend, system.join(' ')),
    })
    await s.db.query('UPDATE oauth_clients SET organisation_id = $1 WHERE client_id = $2', [
      organisation,
      backend,
    ])
    await s.clients.upsert({
      clientId: launcher,
      secret,
      metadata: serviceClientMetadata(launcher, 'account:read'),
    })
  })
  after(() => s.close())

  type User = Awaited<ReturnType<typeof createTestUser>>

  /** Authorization code + PKCE through the sign-in pages; each user signs in once (their jar keeps the session). */
  async function codeFlow(user: User, scope: string, extra: Record<string, string> = {}) {
    const config = await s.discover(app, client.None())
    const { aud = fhirBase, ...rest } = extra
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope,
      ...(aud ? { aud } : {}),
      ...rest,
    })
    const jar = jars.get(user.id) ?? new CookieJar()
    jars.set(user.id, jar)
    let step = await followUntilOutside(s.issuer, req.url.href, jar)
    if (step.page && /action="[^"]*\/login"/.test(step.page)) {
      const action = new URL(/action="([^"]*\/login)"/.exec(step.page)?.[1] ?? '', s.issuer).toString()
      step = await followUntilOutside(
        s.issuer,
        action,
        jar,
        postForm({ email: user.email, password: TEST_PASSWORD, csrf: csrfOf(step.page) }),
      )
    }
    if (step.page && /action="[^"]*\/totp"/.test(step.page)) {
      const action = new URL(/action="([^"]*\/totp)"/.exec(step.page)?.[1] ?? '', s.issuer).toString()
      step = await followUntilOutside(
        s.issuer,
        action,
        jar,
        postForm({ code: totpCode(user.totpSecret ?? '', new Date()), csrf: csrfOf(step.page) }),
      )
    }
    assert.ok(step.url.startsWith(redirectUri), `back at the app: ${step.url.split('?')[0]}`)
    const callback = new URL(step.url)
    assert.equal(callback.searchParams.get('error'), null, `authorization error for "${scope}"`)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    return { config, tokens }
  }

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(path.startsWith('http') ? path : `${fhirBase}/${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/fhir+json',
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any> }
  }

  /**
   * One use of a SMART resource scope by the caller of its context: a read (rs) or a write (cu)
   * of its type. A Subscription is created against an endpoint that refuses the handshake (stored
   * in status error) — with the write scope itself, then deleted with it, or for a read scope with
   * the advertised `.cd` beside it — and read back with a read scope (each interaction needs its own
   * permission, ADR-0032).
   */
  async function useResourceScope(
    token: string,
    context: 'patient' | 'user' | 'system',
    type: string,
    write: boolean,
  ): Promise<void> {
    const t = type === '*' ? 'Patient' : type
    if (t === 'Subscription') {
      const created = await call('POST', 'Subscription', token, {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'every scope',
        criteria: 'https://vigil.dev/fhir/SubscriptionTopic/new-observation',
        _criteria: {
          extension: [
            {
              url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
              valueString: `Observation?patient=Patient/${patientId}`,
            },
          ],
        },
        channel: {
          type: 'rest-hook',
          endpoint: 'https://127.0.0.1:9/hook',
          payload: 'application/fhir+json',
        },
      })
      assert.equal(created.status, 201, `POST Subscription: ${JSON.stringify(created.body)}`)
      const read = await call('GET', `Subscription/${created.body.id}`, token)
      // A write scope (.cd) does not read: the read must be refused, not silently allowed.
      assert.equal(read.status, write ? 403 : 200, `GET Subscription: ${JSON.stringify(read.body)}`)
      if (write) {
        // The advertised write carries the delete a Subscription has (and no update, which it has not).
        const deleted = await call('DELETE', `Subscription/${created.body.id}`, token)
        assert.ok([200, 204].includes(deleted.status), `DELETE Subscription: ${deleted.status}`)
      }
      return
    }
    if (!write) {
      const path =
        t === 'Patient'
          ? `Patient/${patientId}`
          : t === 'Practitioner'
            ? `Practitioner/${clinician.id}`
            : t === 'AuditEvent'
              ? 'AuditEvent?_count=1'
              : `${t}?patient=${patientId}`
      const res = await call('GET', path, token)
      assert.equal(res.status, 200, `GET ${t}: ${JSON.stringify(res.body)}`)
      return
    }
    if (t === 'Patient' && context === 'system') {
      // A backend service registers its organisation's patients (conditional create).
      const res = await call('POST', 'Patient', token, {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:vigil:mrn', value: `MRN-${randomUUID()}` }],
        name: [{ family: 'Created', given: ['Every'] }],
      })
      assert.equal(res.status, 201, `POST Patient: ${JSON.stringify(res.body)}`)
      return
    }
    if (t === 'Patient') {
      const current = await call('GET', `Patient/${patientId}`, token)
      const res = await call('PUT', `Patient/${patientId}`, token, {
        resourceType: 'Patient',
        id: patientId,
        name: [{ family: 'Scoped', given: ['Every', randomUUID().slice(0, 4)] }],
        ...(current.body.birthDate ? { birthDate: current.body.birthDate } : {}),
      })
      assert.equal(res.status, 200, `PUT Patient: ${JSON.stringify(res.body)}`)
      return
    }
    if (t === 'DiagnosticReport') {
      const res = await call('POST', 'DiagnosticReport', token, {
        resourceType: 'DiagnosticReport',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Laboratory report' }] },
        subject: { reference: `Patient/${patientId}` },
        effectiveDateTime: '2026-03-04T10:00:00+01:00',
        conclusion: 'Within target range.',
      })
      assert.equal(res.status, 201, `POST DiagnosticReport: ${JSON.stringify(res.body)}`)
      return
    }
    throw new Error(`no ${type} write exists on /fhir/R4`)
  }

  async function newLaunch(): Promise<string> {
    const consoleToken = await mintToken(s.app, s.issuer, {
      clientId: launcher,
      accountId: clinician.id,
      scope: 'openid patients:read',
    })
    const res = await fetch(`${s.issuer}/api/v2/smart/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: app, patient: patientId }),
    })
    assert.equal(res.status, 201)
    return ((await res.json()) as { launch: string }).launch
  }

  /** Obtains a token carrying `scope` through its grant and uses it once. */
  async function prove(scope: string): Promise<void> {
    const smart = parseSmartScope(scope)
    const granted = (tokens: { scope?: string }) => String(tokens.scope ?? '').split(' ')
    // A Subscription's topic is Observations: creating one also needs their read (checked at
    // creation); proving a read scope needs a Subscription to read, created with the advertised `.cd`.
    const companion = (context: string) =>
      smart?.type === 'Subscription'
        ? ` ${context}/Observation.rs${smart.permissions.has('c') ? '' : ` ${context}/Subscription.cd`}`
        : ''
    if (smart) {
      const write = !smart.permissions.has('r') && !smart.permissions.has('s')
      if (smart.context === 'system') {
        const config = await s.discover(backend, client.ClientSecretBasic(secret))
        const tokens = await client.clientCredentialsGrant(config, {
          scope: `${scope}${companion('system')}`,
          aud: fhirBase,
        } as Record<string, string>)
        assert.ok(granted(tokens).includes(normalizeScope(scope)), `granted: ${tokens.scope}`)
        return useResourceScope(tokens.access_token, smart.context, smart.type, write)
      }
      const user = smart.context === 'patient' ? patient : smart.type === 'AuditEvent' ? auditor : clinician
      const { tokens } = await codeFlow(
        user,
        `${smart.context === 'patient' ? 'launch/patient ' : ''}${scope}${companion(smart.context)}`,
      )
      assert.ok(granted(tokens).includes(normalizeScope(scope)), `granted: ${tokens.scope}`)
      return useResourceScope(tokens.access_token, smart.context, smart.type, write)
    }
    switch (scope) {
      case 'openid': {
        // No aud: OpenID Connect sign-in. openid is carried, and used, by the ID token that
        // openid-client has verified (signature, issuer, audience): it names the signed-in user.
        const { tokens } = await codeFlow(patient, 'openid', { aud: '' })
        assert.ok(tokens.id_token, 'an ID token')
        assert.equal(tokens.claims()?.sub, patient.id, 'the ID token names the user')
        return
      }
      case 'fhirUser': {
        const { tokens } = await codeFlow(clinician, 'openid fhirUser')
        assert.ok(granted(tokens).includes('fhirUser'), `granted: ${tokens.scope}`)
        const fhirUser = String(tokens.claims()?.fhirUser)
        assert.equal(fhirUser, `${fhirBase}/Practitioner/${clinician.id}`)
        assert.equal((await call('GET', fhirUser, tokens.access_token)).status, 200)
        return
      }
      case 'launch': {
        const { tokens } = await codeFlow(clinician, 'launch patient/Patient.rs', {
          launch: await newLaunch(),
        })
        assert.ok(granted(tokens).includes('launch'), `granted: ${tokens.scope}`)
        assert.equal(tokens.patient, patientId)
        assert.equal((await call('GET', `Patient/${tokens.patient}`, tokens.access_token)).status, 200)
        return
      }
      case 'launch/patient': {
        const { tokens } = await codeFlow(patient, 'launch/patient patient/Patient.rs')
        assert.ok(granted(tokens).includes('launch/patient'), `granted: ${tokens.scope}`)
        assert.equal(tokens.patient, patientId)
        assert.equal((await call('GET', `Patient/${tokens.patient}`, tokens.access_token)).status, 200)
        return
      }
      case 'offline_access':
      case 'online_access': {
        const { config, tokens } = await codeFlow(patient, `launch/patient patient/Patient.rs ${scope}`)
        assert.ok(granted(tokens).includes(scope), `granted: ${tokens.scope}`)
        assert.ok(tokens.refresh_token, 'a refresh token')
        const refreshed = await client.refreshTokenGrant(config, String(tokens.refresh_token))
        assert.equal((await call('GET', `Patient/${patientId}`, refreshed.access_token)).status, 200)
        return
      }
      default:
        throw new Error('no known use: advertised without support')
    }
  }

  test('[SRS-FHIR-530] every scope in scopes_supported (read from discovery at test time) is granted through its grant to a real client and works once used', async () => {
    assert.ok(advertised.length > 0)
    const failures: string[] = []
    for (const scope of advertised) {
      try {
        await prove(scope)
      } catch (err) {
        failures.push(`${scope}: ${(err as Error).message.split('\n')[0]}`)
      }
    }
    assert.deepEqual(failures, [])
  })
})
