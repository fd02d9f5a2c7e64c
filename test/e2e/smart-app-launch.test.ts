/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR and token JSON are walked loosely; FHIR bodies are schema-validated first */
// SMART App Launch 2.0 through the real sign-in pages with openid-client (issue 13): discovery at
// the FHIR base, standalone patient launch with fhirUser, v1 scopes mapped to v2, refresh tokens
// on offline_access / online_access without prompt=consent (rotation and reuse detection kept),
// introspection naming patient and fhirUser, EHR launch from POST /api/v2/smart/launch with its
// bad inputs, fhirUser for a user without a FHIR identity, and CORS for a registered app's origin.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { ClientMetadata } from 'oidc-provider'
import { exportJWK, generateKeyPair } from 'jose'
import * as client from 'openid-client'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  postForm,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { assertValidFhir, seedReadings } from '../support/fhir.ts'
import {
  oauthError,
  pkceAuthorizationRequest,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'
import { mintToken } from '../support/world.ts'
import { totpCode } from '../../src/modules/users/index.ts'

// Our SMART conformance suite (ADR-0019): each test names the Inferno smart_stu2 group it mirrors and
// the section of SMART App Launch 2.0 (STU2) it checks.
describe('SMART App Launch 2.0 conformance (Inferno smart_stu2 groups) with openid-client', () => {
  let s: OAuthTestServer
  let fhirBase = ''
  const app = `smart-app-${randomUUID()}`
  const other = `other-app-${randomUUID()}`
  const introspector = `introspector-${randomUUID()}`
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const redirectUri = 'http://127.0.0.1:49171/callback'
  const webOrigin = 'https://smart-app.example'
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let clinician: Awaited<ReturnType<typeof createTestUser>>
  let admin: Awaited<ReturnType<typeof createTestUser>>
  let patientId = ''
  let otherPatientId = ''
  const clinicianJar = new CookieJar()
  /** SMART capabilities each test below proved by behaviour; the last test compares them with discovery. */
  const proven = new Set<string>()
  let glucoseIds: string[] = []
  let heartRateIds: string[] = []

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    const smartMetadata = (clientId: string): ClientMetadata => ({
      client_id: clientId,
      client_name: 'SMART test app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback', `${webOrigin}/callback`],
      scope: 'openid fhirUser launch launch/patient patient/*.rs user/*.rs offline_access online_access',
      first_party: true,
    })
    await s.clients.upsert({ clientId: app, metadata: smartMetadata(app) })
    await s.clients.upsert({ clientId: other, metadata: smartMetadata(other) })
    await s.clients.upsert({
      clientId: introspector,
      secret,
      metadata: {
        client_id: introspector,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'account:read',
      },
    })
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `SMART clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    patient = await createTestUser(s.db, {
      email: `smart-patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org }],
    })
    clinician = await createTestUser(s.db, {
      email: `smart-clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org }],
      totp: true,
    })
    admin = await createTestUser(s.db, {
      email: `smart-admin-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
      totp: true,
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        userId: patient.id,
        organisationId: org,
        demographics: { name: { family: 'Launch', given: ['Sam'] } },
      })
    ).id
    otherPatientId = (
      await s.app.vigil.modules.patients.create({
        organisationId: org,
        demographics: { name: { family: 'Elsewhere' } },
      })
    ).id
    await s.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, clinician.id, org],
    )
    glucoseIds = await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 3 }, (_, i) => ({
        effectiveAt: new Date(Date.UTC(2026, 0, 1 + i)),
        content: { value: 90 + i, unit: 'mg/dL' },
      })),
    )
    heartRateIds = await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 2 }, (_, i) => ({
        code: '8867-4',
        category: 'vital-signs',
        effectiveAt: new Date(Date.UTC(2026, 0, 5 + i)),
        content: { value: 60 + i, unit: '/min' },
      })),
    )
  })
  after(() => s.close())

  /** Signs in through the pages (TOTP when asked), keeping the jar; returns the redirect back to the app. */
  async function authorize(
    url: string,
    login: { email: string; totpSecret?: string | undefined },
    jar = new CookieJar(),
  ) {
    let step = await followUntilOutside(s.issuer, url, jar)
    if (step.page && /action="[^"]*\/login"/.test(step.page)) {
      const action = new URL(/action="([^"]*\/login)"/.exec(step.page)?.[1] ?? '', s.issuer).toString()
      step = await followUntilOutside(
        s.issuer,
        action,
        jar,
        postForm({ email: login.email, password: TEST_PASSWORD, csrf: csrfOf(step.page) }),
      )
    }
    if (step.page && /action="[^"]*\/totp"/.test(step.page)) {
      const action = new URL(/action="([^"]*\/totp)"/.exec(step.page)?.[1] ?? '', s.issuer).toString()
      step = await followUntilOutside(
        s.issuer,
        action,
        jar,
        postForm({ code: totpCode(login.totpSecret ?? '', new Date()), csrf: csrfOf(step.page) }),
      )
    }
    return { ...step, callback: new URL(step.url) }
  }

  const fhirGet = async (path: string, token: string) => {
    const res = await fetch(path.startsWith('http') ? path : `${fhirBase}/${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' },
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }

  test('[SRS-FHIR-304] Inferno discovery_stu2 (SMART 2.0 conformance.html, Using well-known; FHIR R4 CapabilityStatement.rest.security): discovery at [FHIR base]/.well-known/smart-configuration (and the root) with S256, and the CapabilityStatement names the SMART OAuth URIs and service', async () => {
    const atBase = await fetch(`${fhirBase}/.well-known/smart-configuration`)
    assert.equal(atBase.status, 200)
    assert.match(String(atBase.headers.get('content-type')), /^application\/json/)
    const cfg = (await atBase.json()) as Record<string, any>
    const atRoot = (await (await fetch(`${s.issuer}/.well-known/smart-configuration`)).json()) as Record<
      string,
      any
    >
    assert.deepEqual(cfg, atRoot)
    assert.deepEqual(cfg.code_challenge_methods_supported, ['S256'])
    assert.equal(cfg.token_endpoint, `${s.issuer}/oauth/token`)
    const cap = (await (await fetch(`${fhirBase}/metadata`)).json()) as Record<string, any>
    assertValidFhir(cap)
    const security = cap.rest[0].security
    assert.equal(security.service[0].coding[0].code, 'SMART-on-FHIR')
    const uris = security.extension.find(
      (e: any) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
    )
    assert.equal(uris.extension.find((e: any) => e.url === 'authorize').valueUri, cfg.authorization_endpoint)
    assert.equal(uris.extension.find((e: any) => e.url === 'token').valueUri, cfg.token_endpoint)
    assert.ok(cap.rest[0].resource.some((r: any) => r.type === 'Practitioner'))
  })

  test('[SRS-FHIR-305] Inferno standalone_launch_stu2, openid_connect and token_introspection (SMART 2.0 app-launch.html, Obtain authorization code / Obtain access token; scopes-and-launch-context.html, Scopes for requesting identity data; token-introspection.html): standalone patient launch without prompt=consent: v1 scopes mapped to v2, patient and need_patient_banner in the token response, fhirUser in the ID token and resolvable, introspection names patient and fhirUser', async () => {
    const config = await s.discover(app, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid fhirUser launch/patient patient/*.read offline_access',
      aud: fhirBase,
    })
    const landed = await authorize(req.url.href, { email: patient.email })
    assert.ok(landed.url.startsWith(redirectUri), landed.url)
    const tokens = await client.authorizationCodeGrant(config, landed.callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(
      tokens.patient,
      patientId,
      JSON.stringify({ ...tokens, access_token: undefined, refresh_token: undefined, id_token: undefined }),
    )
    assert.equal(tokens.need_patient_banner, true)
    const granted = String(tokens.scope).split(' ')
    assert.ok(
      granted.includes('patient/*.rs') && !granted.includes('patient/*.read'),
      `v1 mapped to v2: ${tokens.scope}`,
    )
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token without prompt=consent')
    const claims = tokens.claims()
    assert.equal(claims?.fhirUser, `${fhirBase}/Patient/${patientId}`)
    const me = await fhirGet(String(claims?.fhirUser), tokens.access_token)
    assert.equal(me.status, 200)
    assertValidFhir(me.body)
    assert.equal(me.body.id, patientId)

    const introspecting = await s.discover(introspector, client.ClientSecretBasic(secret))
    const info = await client.tokenIntrospection(introspecting, tokens.access_token)
    assert.equal(info.active, true)
    assert.equal(info.client_id, app)
    assert.equal(info.patient, patientId)
    assert.equal(info.fhirUser, `${fhirBase}/Patient/${patientId}`)
    assert.ok(String(info.scope).split(' ').includes('patient/*.rs'))
    assert.equal(typeof info.exp, 'number', 'token-introspection.html: exp is required for an active token')
    // Inferno token_introspection: a revoked token introspects as inactive, with nothing else.
    await client.tokenRevocation(config, tokens.access_token)
    const revoked = await client.tokenIntrospection(introspecting, tokens.access_token)
    assert.equal(revoked.active, false)
    assert.equal(revoked.patient, undefined)
    for (const c of [
      'launch-standalone',
      'client-public',
      'context-standalone-patient',
      'context-banner',
      'permission-patient',
      'permission-v1',
      'sso-openid-connect',
    ])
      proven.add(c)
  })

  test('[SRS-OAUTH-306] Inferno token_refresh_stu2 (SMART 2.0 app-launch.html, Refresh access token; scopes-and-launch-context.html, Scopes for requesting a refresh token): refresh on offline_access and online_access: the refresh token rotates, keeps the patient, and a reused one revokes the grant', async () => {
    const config = await s.discover(app, client.None())
    for (const lifetime of ['offline_access', 'online_access']) {
      const req = await pkceAuthorizationRequest(config, {
        redirectUri,
        scope: `openid launch/patient patient/*.rs ${lifetime}`,
        aud: fhirBase,
      })
      const landed = await authorize(req.url.href, { email: patient.email })
      const first = await client.authorizationCodeGrant(config, landed.callback, {
        pkceCodeVerifier: req.verifier,
        expectedState: req.state,
      })
      assert.ok(first.refresh_token, `${lifetime} gives a refresh token`)
      const second = await client.refreshTokenGrant(config, String(first.refresh_token))
      assert.notEqual(second.refresh_token, first.refresh_token, 'rotated')
      assert.equal(second.patient, patientId, 'the refreshed token keeps the launch patient')
      assert.equal((await fhirGet(`Observation?patient=${patientId}`, second.access_token)).status, 200)
      // Reuse of the consumed refresh token: refused, and the grant's newest tokens die with it.
      await assert.rejects(
        client.refreshTokenGrant(config, String(first.refresh_token)),
        (err) => oauthError(err) === 'invalid_grant',
      )
      await assert.rejects(
        client.refreshTokenGrant(config, String(second.refresh_token)),
        (err) => oauthError(err) === 'invalid_grant',
      )
      assert.equal((await fhirGet(`Observation?patient=${patientId}`, second.access_token)).status, 401)
      proven.add(lifetime === 'offline_access' ? 'permission-offline' : 'permission-online')
    }
    proven.add('permission-v2')
  })

  async function newLaunch(clientId = app, patient = patientId) {
    const consoleToken = await mintToken(s.app, s.issuer, {
      clientId: introspector,
      accountId: clinician.id,
      scope: 'openid patients:read',
    })
    const res = await fetch(`${s.issuer}/api/v2/smart/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, patient }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }

  test('[SRS-FHIR-307] Inferno ehr_launch_stu2 (SMART 2.0 app-launch.html, Launch app: EHR launch; scopes-and-launch-context.html, Launch context arrives with your access_token): EHR launch: a clinician creates the launch, the app sends launch + the launch scope, and gets the patient and the clinician as Practitioner fhirUser', async () => {
    const created = await newLaunch()
    assert.equal(created.status, 201)
    assert.equal(created.body.iss, fhirBase)
    const config = await s.discover(app, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid fhirUser launch user/*.rs patient/*.rs',
      aud: created.body.iss,
      launch: created.body.launch,
    })
    const landed = await authorize(
      req.url.href,
      { email: clinician.email, totpSecret: clinician.totpSecret },
      clinicianJar,
    )
    assert.ok(landed.url.startsWith(redirectUri), landed.url)
    const tokens = await client.authorizationCodeGrant(config, landed.callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(tokens.patient, patientId)
    assert.equal(tokens.need_patient_banner, false)
    const fhirUser = String(tokens.claims()?.fhirUser)
    assert.equal(fhirUser, `${fhirBase}/Practitioner/${clinician.id}`)
    const practitioner = await fhirGet(fhirUser, tokens.access_token)
    assert.equal(practitioner.status, 200)
    assertValidFhir(practitioner.body)
    const obs = await fhirGet(`Observation?patient=${patientId}`, tokens.access_token)
    assert.equal(obs.status, 200)
    assertValidFhir(obs.body)
    assert.equal(obs.body.entry.length, 5)
    // user/*.rs reached the Practitioner: a user-level scope works.
    for (const c of ['launch-ehr', 'context-ehr-patient', 'permission-user']) proven.add(c)
    // A patient outside the clinician's care: the launch API conceals it.
    assert.equal((await newLaunch(app, otherPatientId)).status, 404)
  })

  /** The authorization response as the app receives it in each response mode, as the URL openid-client takes. */
  function responseAt(mode: 'query' | 'fragment' | 'form_post', landed: { url: string; page?: string }) {
    if (mode === 'query') return new URL(landed.url)
    if (mode === 'fragment') {
      const at = new URL(landed.url)
      return new URL(`${at.origin}${at.pathname}?${at.hash.slice(1)}`)
    }
    // form_post: the page's form, which a browser's script posts to the redirect URI.
    const action = /<form method="post" action="([^"]+)"/.exec(landed.page ?? '')?.[1]
    assert.equal(action, redirectUri, `a form posting to the redirect URI: ${landed.page?.slice(0, 300)}`)
    const fields = [...(landed.page ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)]
    const at = new URL(redirectUri)
    for (const [, name, value] of fields) at.searchParams.set(name as string, value as string)
    return at
  }

  test('[SRS-OAUTH-541] an EHR launch answered in each response mode (query, fragment, form_post) carries its patient, and the launch is used once in each', async () => {
    const config = await s.discover(app, client.None())
    for (const mode of ['query', 'fragment', 'form_post'] as const) {
      const launch = (await newLaunch()).body.launch as string
      const attempt = async () => {
        const req = await pkceAuthorizationRequest(config, {
          redirectUri,
          scope: 'openid fhirUser launch patient/*.rs',
          aud: fhirBase,
          launch,
          response_mode: mode,
        })
        const landed = await authorize(
          req.url.href,
          { email: clinician.email, totpSecret: clinician.totpSecret },
          clinicianJar,
        )
        return { req, response: responseAt(mode, landed) }
      }
      const { req, response } = await attempt()
      const tokens = await client.authorizationCodeGrant(config, response, {
        pkceCodeVerifier: req.verifier,
        expectedState: req.state,
      })
      assert.equal(tokens.patient, patientId, `${mode}: the token response names the launch's patient`)
      const obs = await fhirGet(`Observation?patient=${patientId}`, tokens.access_token)
      assert.equal(obs.status, 200, mode)
      // The launch was used by that authorization: a second one with it is refused.
      const second = await attempt()
      assert.equal(
        second.response.searchParams.get('error'),
        'invalid_request',
        `${mode}: the launch is used`,
      )
      assert.equal(second.response.searchParams.get('code'), null, mode)
    }
  })

  test('[SRS-FHIR-308] Inferno ehr_launch_stu2, invalid launch (SMART 2.0 app-launch.html, Launch app: EHR launch; RFC 6749 §4.1.2.1): a launch that is unknown, used, expired or for another client, or sent without the launch scope, is refused with the OAuth error, audited, and issues nothing', async () => {
    const config = await s.discover(app, client.None())
    const attempt = async (launch: string, scope = 'openid launch patient/*.rs') => {
      const req = await pkceAuthorizationRequest(config, { redirectUri, scope, aud: fhirBase, launch })
      const landed = await authorize(
        req.url.href,
        { email: clinician.email, totpSecret: clinician.totpSecret },
        clinicianJar,
      )
      return landed.callback
    }
    const unknown = await attempt('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    assert.equal(unknown.searchParams.get('error'), 'invalid_request')
    assert.equal(unknown.searchParams.get('code'), null)
    const forOther = (await newLaunch(other)).body.launch as string
    assert.equal((await attempt(forOther)).searchParams.get('error'), 'invalid_request')
    const expired = (await newLaunch()).body.launch as string
    await s.db.query(
      "UPDATE smart_launch_contexts SET expires_at = now() - interval '1 second' WHERE id = $1",
      [expired],
    )
    assert.equal((await attempt(expired)).searchParams.get('error'), 'invalid_request')
    const noScope = (await newLaunch()).body.launch as string
    assert.equal((await attempt(noScope, 'openid patient/*.rs')).searchParams.get('error'), 'invalid_scope')
    // Used once: a second use is refused.
    const once = (await newLaunch()).body.launch as string
    assert.ok((await attempt(once)).searchParams.get('code'))
    assert.equal((await attempt(once)).searchParams.get('error'), 'invalid_request')
    // The refusals' audit entries are written just after each response: wait for them.
    let audited = 0
    for (let i = 0; i < 100 && audited < 5; i++) {
      audited =
        (
          await s.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'oauth.authorization' AND client_id = $1 AND outcome = 'denied'",
            [app],
          )
        ).rows[0]?.n ?? 0
      if (audited < 5) await new Promise((r) => setTimeout(r, 20))
    }
    assert.ok(audited >= 5, `audited refusals: ${audited}`)
    // A client that is not a SMART app registered for launch cannot be launched.
    assert.equal((await newLaunch(introspector)).status, 422)
  })

  test('[SRS-FHIR-309] Inferno openid_connect (SMART 2.0 scopes-and-launch-context.html, Scopes for requesting identity data; RFC 6749 §4.1.2.1 access_denied): fhirUser for a user with no FHIR identity ends in access_denied at the app, with no code', async () => {
    const config = await s.discover(app, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid fhirUser user/*.rs',
      aud: fhirBase,
    })
    const landed = await authorize(req.url.href, { email: admin.email, totpSecret: admin.totpSecret })
    assert.ok(landed.url.startsWith(redirectUri), landed.url)
    assert.equal(landed.callback.searchParams.get('error'), 'access_denied')
    assert.equal(landed.callback.searchParams.get('code'), null)
  })

  test('[SRS-FHIR-318] Inferno standalone_launch_stu2 with confidential clients (SMART 2.0 client-confidential-symmetric.html, client-confidential-asymmetric.html): confidential SMART apps launch too: client_secret_basic (symmetric) and private_key_jwt (asymmetric)', async () => {
    const symmetric = `smart-symmetric-${randomUUID()}`
    const asymmetric = `smart-asymmetric-${randomUUID()}`
    const base = {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${webOrigin}/callback`],
      scope: 'openid fhirUser launch/patient patient/*.rs',
      first_party: true,
    } as const
    await s.clients.upsert({
      clientId: symmetric,
      secret,
      metadata: {
        client_id: symmetric,
        token_endpoint_auth_method: 'client_secret_basic',
        ...base,
        grant_types: [...base.grant_types],
        response_types: [...base.response_types],
        redirect_uris: [...base.redirect_uris],
      },
    })
    const pair = await generateKeyPair('ES384', { extractable: true })
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'smart-app-key', alg: 'ES384', use: 'sig' }
    await s.clients.upsert({
      clientId: asymmetric,
      metadata: {
        client_id: asymmetric,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES384',
        jwks: { keys: [jwk] },
        ...base,
        grant_types: [...base.grant_types],
        response_types: [...base.response_types],
        redirect_uris: [...base.redirect_uris],
      },
    })
    for (const [clientId, auth, capability] of [
      [symmetric, client.ClientSecretBasic(secret), 'client-confidential-symmetric'],
      [asymmetric, client.PrivateKeyJwt(pair.privateKey), 'client-confidential-asymmetric'],
    ] as const) {
      const config = await s.discover(clientId, auth)
      const req = await pkceAuthorizationRequest(config, {
        redirectUri: `${webOrigin}/callback`,
        scope: 'openid fhirUser launch/patient patient/*.rs',
        aud: fhirBase,
      })
      const landed = await authorize(req.url.href, { email: patient.email })
      assert.ok(landed.url.startsWith(`${webOrigin}/callback`), landed.url)
      const tokens = await client.authorizationCodeGrant(config, landed.callback, {
        pkceCodeVerifier: req.verifier,
        expectedState: req.state,
      })
      assert.equal(tokens.patient, patientId)
      assert.equal((await fhirGet(`Patient/${patientId}`, tokens.access_token)).status, 200)
      proven.add(capability)
    }
  })

  test('[SRS-FHIR-311] ONC (g)(10) granular scopes (SMART 2.0 scopes-and-launch-context.html, Finer-grained resource constraints using search parameters): a granular scope (patient/Observation.rs?category=vital-signs) reaches only the Observations it names', async () => {
    const config = await s.discover(app, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'launch/patient patient/Observation.rs?category=vital-signs',
      aud: fhirBase,
    })
    const landed = await authorize(req.url.href, { email: patient.email })
    const tokens = await client.authorizationCodeGrant(config, landed.callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(tokens.scope, 'launch/patient patient/Observation.rs?category=vital-signs')
    const all = await fhirGet(`Observation?patient=${patientId}`, tokens.access_token)
    assert.equal(all.status, 200)
    assertValidFhir(all.body)
    assert.deepEqual(all.body.entry.map((e: any) => e.resource.id).sort(), [...heartRateIds].sort())
    // Asking for the other category finds nothing; reading one of them directly is not found.
    const lab = await fhirGet(`Observation?patient=${patientId}&category=laboratory`, tokens.access_token)
    assert.equal(lab.body.entry?.length ?? 0, 0)
    assert.equal((await fhirGet(`Observation/${glucoseIds[0]}`, tokens.access_token)).status, 404)
    assert.equal((await fhirGet(`Observation/${heartRateIds[0]}`, tokens.access_token)).status, 200)
    // Nothing but Observations: the Patient needs its own scope.
    assert.equal((await fhirGet(`Patient/${patientId}`, tokens.access_token)).status, 403)
  })

  test('[SRS-FHIR-310] browser-hosted apps (FHIR R4 CapabilityStatement.rest.security.cors; Fetch standard CORS): a registered SMART app origin gets CORS on /fhir/R4 and the token endpoint; another origin does not', async () => {
    const preflight = await fetch(`${fhirBase}/Observation`, {
      method: 'OPTIONS',
      headers: {
        origin: webOrigin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    })
    assert.equal(preflight.headers.get('access-control-allow-origin'), webOrigin)
    const get = await fetch(`${fhirBase}/metadata`, { headers: { origin: webOrigin } })
    assert.equal(get.headers.get('access-control-allow-origin'), webOrigin)
    const token = await fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: { origin: webOrigin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'x',
        client_id: app,
        redirect_uri: `${webOrigin}/callback`,
        code_verifier: 'x'.repeat(43),
      }),
    })
    assert.equal(token.headers.get('access-control-allow-origin'), webOrigin)
    const evil = await fetch(`${fhirBase}/metadata`, { headers: { origin: 'https://evil.example' } })
    assert.equal(evil.headers.get('access-control-allow-origin'), null)
    const evilPreflight = await fetch(`${fhirBase}/Observation`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    })
    assert.equal(evilPreflight.headers.get('access-control-allow-origin'), null)
    // Not on the rest of the API.
    const api = await fetch(`${s.issuer}/api/v2/me`, { headers: { origin: webOrigin } })
    assert.equal(api.headers.get('access-control-allow-origin'), null)
  })

  test('[SRS-FHIR-319] Inferno discovery_stu2 capabilities (SMART 2.0 conformance.html, Capabilities): the SMART configuration advertises exactly the capabilities this suite proved by behaviour', async () => {
    const cfg = (await (await fetch(`${fhirBase}/.well-known/smart-configuration`)).json()) as {
      capabilities: string[]
    }
    assert.deepEqual([...cfg.capabilities].sort(), [...proven].sort())
  })
})
