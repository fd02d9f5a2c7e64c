// The admin API for OAuth clients (/api/v2/admin/clients) with real tokens: administrators sign in
// through the sign-in pages (password and TOTP) with openid-client; devices and services use
// client credentials. The policy permits a user holding the global admin role whose token carries
// admin:clients; every other caller is refused.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createTestUser, nativeAppMetadata, signInThroughForms, TEST_PASSWORD } from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('admin API for OAuth clients', () => {
  let s: OAuthTestServer
  const consoleId = `admin-console-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49152/callback' // any loopback port (RFC 8252 §7.3)
  const serviceId = `svc-${randomUUID()}`
  const serviceSecret = 'a-long-random-client-secret-0123456789abcdef'
  let adminToken: string
  let adminWithoutScopeToken: string
  let patientToken: string
  let serviceToken: string

  /** An access token for a user, through the sign-in pages (and TOTP when their role needs it). */
  async function userToken(
    who: { email: string; totpSecret?: string | undefined },
    scope: string,
  ): Promise<string> {
    const config = await s.discover(consoleId, client.None())
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    })
    const landed = await signInThroughForms(s.issuer, url.href, {
      email: who.email,
      password: TEST_PASSWORD,
      totpSecret: who.totpSecret,
    })
    assert.ok(landed.url.startsWith(redirectUri), `landed on ${landed.url} (${landed.status})`)
    const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    return tokens.access_token
  }

  const api = (method: string, path: string, token: string | undefined, body?: unknown) =>
    fetch(`${s.issuer}/api/v2${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })

  const listedIds = async () =>
    (
      (await (await api('GET', '/admin/clients', adminToken)).json()) as { clients: { clientId: string }[] }
    ).clients.map((c) => c.clientId)

  before(async () => {
    s = await startOAuthTestServer()
    const console_ = nativeAppMetadata(consoleId)
    await s.clients.upsert({
      clientId: consoleId,
      metadata: { ...console_, scope: `${String(console_.scope)} admin:clients` },
    })
    // A service allowed the scope too: its refusal must come from the policy, not a missing scope.
    await s.clients.upsert({
      clientId: serviceId,
      secret: serviceSecret,
      metadata: {
        client_id: serviceId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'account:read admin:clients',
      },
    })
    // Admins need TOTP; each signs in once, so no code is used twice within its 30 s step.
    const admin = await createTestUser(s.db, {
      email: `admin-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
      totp: true,
    })
    const otherAdmin = await createTestUser(s.db, {
      email: `admin2-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
      totp: true,
    })
    const patient = await createTestUser(s.db, {
      email: `patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: null }],
    })
    adminToken = await userToken(admin, 'openid account:read admin:clients')
    adminWithoutScopeToken = await userToken(otherAdmin, 'openid account:read')
    patientToken = await userToken(patient, 'openid account:read admin:clients')
    const service = await client.clientCredentialsGrant(
      await s.discover(serviceId, client.ClientSecretBasic(serviceSecret)),
      { scope: 'account:read admin:clients' },
    )
    serviceToken = service.access_token
  })
  after(() => s.close())

  test('[SRS-OAUTH-010] an administrator holding admin:clients registers a confidential client; its secret, shown once, works with client credentials and is stored sealed', async () => {
    const clientId = `portal-${randomUUID()}`
    const res = await api('POST', '/admin/clients', adminToken, {
      clientId,
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scope: 'account:read',
      name: 'Clinic portal',
    })
    assert.equal(res.status, 201)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const created = (await res.json()) as Record<string, unknown>
    const secret = created.clientSecret
    assert.ok(typeof secret === 'string' && secret.length >= 43, 'a server-generated secret of 256 bits')
    assert.deepEqual(
      { ...created, clientSecret: undefined },
      {
        clientId,
        type: 'confidential',
        name: 'Clinic portal',
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scope: 'account:read',
        firstParty: false,
        clientSecret: undefined,
      },
    )

    const tokens = await client.clientCredentialsGrant(
      await s.discover(clientId, client.ClientSecretBasic(secret)),
      { scope: 'account:read' },
    )
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 200)
    assert.deepEqual(((await me.json()) as { id: string }).id, clientId)

    const { rows } = await s.db.query<{ secret_sealed: string | null; metadata: unknown }>(
      'SELECT secret_sealed, metadata FROM oauth_clients WHERE client_id = $1',
      [clientId],
    )
    assert.ok(rows[0]?.secret_sealed, 'a sealed secret is stored')
    assert.ok(
      !rows[0].secret_sealed.includes(secret) && !JSON.stringify(rows[0].metadata).includes(secret),
      'never the plaintext',
    )
    assert.ok(!s.logs.text.includes(secret), 'the secret is not logged')
  })

  test('[SRS-OAUTH-010] the list shows every client and never a secret', async () => {
    const clientId = `listed-${randomUUID()}`
    const created = (await (
      await api('POST', '/admin/clients', adminToken, {
        clientId,
        type: 'confidential',
        grantTypes: ['client_credentials'],
        scope: 'account:read',
      })
    ).json()) as { clientSecret: string }
    const res = await api('GET', '/admin/clients', adminToken)
    assert.equal(res.status, 200)
    const text = await res.text()
    const { clients } = JSON.parse(text) as { clients: Record<string, unknown>[] }
    assert.ok(clients.some((c) => c.clientId === clientId && c.type === 'confidential'))
    assert.ok(
      clients.some((c) => c.clientId === serviceId),
      'clients registered by the CLI or the store are listed too',
    )
    assert.ok(!text.includes(created.clientSecret) && !text.includes(serviceSecret))
    for (const c of clients)
      assert.deepEqual(
        Object.keys(c).filter((k) => /secret/i.test(k)),
        [],
        `${String(c.clientId)} shows no secret field`,
      )
  })

  test('[SRS-OAUTH-010] a public native client (loopback and private-use redirect URIs) is registered, accepted by the authorization server, and deleted', async () => {
    const clientId = `mobile-${randomUUID()}`
    const res = await api('POST', '/admin/clients', adminToken, {
      clientId,
      type: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1/callback', 'com.example.vigil:/callback'],
      scope: 'openid offline_access account:read',
      firstParty: true,
    })
    assert.equal(res.status, 201)
    const created = (await res.json()) as Record<string, unknown>
    assert.equal(created.clientSecret, undefined, 'a public client has no secret')
    assert.equal(created.type, 'public')

    // oidc-provider loads the metadata: an authorization request goes on to the sign-in page.
    const config = await s.discover(clientId, client.None())
    const authorize = () =>
      fetch(
        client.buildAuthorizationUrl(config, {
          redirect_uri: 'http://127.0.0.1:50000/callback',
          scope: 'openid',
          code_challenge: 'a'.repeat(43),
          code_challenge_method: 'S256',
          state: 'x',
        }),
        { redirect: 'manual' },
      )
    const first = await authorize()
    assert.equal(first.status, 303)
    assert.match(String(first.headers.get('location')), /\/interaction\//)

    assert.equal((await api('DELETE', `/admin/clients/${clientId}`, adminToken)).status, 204)
    assert.ok(!(await listedIds()).includes(clientId))
    const again = await api('DELETE', `/admin/clients/${clientId}`, adminToken)
    assert.equal(again.status, 404)
    assert.match(String(again.headers.get('content-type')), /^application\/problem\+json/)
    assert.equal((await authorize()).status, 400, 'the authorization server no longer knows the client')
  })

  test('[SRS-OAUTH-010] a patient token, an administrator token without admin:clients and a client credentials token get 403; no token gets 401', async () => {
    const victim = `victim-${randomUUID()}`
    const body = {
      clientId: `intruder-${randomUUID()}`,
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scope: 'account:read',
    }
    await api('POST', '/admin/clients', adminToken, { ...body, clientId: victim })
    for (const [who, token] of [
      ['patient with admin:clients', patientToken],
      ['admin without admin:clients', adminWithoutScopeToken],
      ['service with admin:clients', serviceToken],
    ] as const) {
      assert.equal((await api('GET', '/admin/clients', token)).status, 403, `${who}: list`)
      const create = await api('POST', '/admin/clients', token, body)
      assert.equal(create.status, 403, `${who}: create`)
      assert.match(String(create.headers.get('content-type')), /^application\/problem\+json/)
      assert.equal((await api('DELETE', `/admin/clients/${victim}`, token)).status, 403, `${who}: delete`)
    }
    const anonymous = await api('GET', '/admin/clients', undefined)
    assert.equal(anonymous.status, 401)
    assert.match(String(anonymous.headers.get('www-authenticate')), /^Bearer/)
    assert.equal((await api('POST', '/admin/clients', undefined, body)).status, 401)
    assert.equal((await api('DELETE', `/admin/clients/${victim}`, undefined)).status, 401)

    const ids = await listedIds()
    assert.ok(ids.includes(victim), 'nothing was deleted')
    assert.ok(!ids.includes(body.clientId), 'nothing was created')
  })

  test('[SRS-OAUTH-010] unknown fields, a non-loopback http redirect URI for a public client and an unsupported grant type are refused with 400 problem+json', async () => {
    const valid = {
      type: 'public',
      grantTypes: ['authorization_code'],
      redirectUris: ['http://127.0.0.1/callback'],
      scope: 'openid account:read',
    }
    const cases: { name: string; body: Record<string, unknown>; pointer: string }[] = [
      {
        name: 'a secret chosen by the caller (unknown field)',
        body: {
          ...valid,
          type: 'confidential',
          redirectUris: ['https://app.example/cb'],
          clientSecret: 'chosen',
        },
        pointer: '/body/clientSecret',
      },
      {
        name: 'an unknown field',
        body: { ...valid, tokenEndpointAuthMethod: 'none' },
        pointer: '/body/tokenEndpointAuthMethod',
      },
      {
        name: 'http to a remote host, public client',
        body: { ...valid, redirectUris: ['http://app.example.com/callback'] },
        pointer: '/body/redirectUris/0',
      },
      {
        name: 'http to localhost (not an IP literal)',
        body: { ...valid, redirectUris: ['https://app.example/cb', 'http://localhost/callback'] },
        pointer: '/body/redirectUris/1',
      },
      {
        name: 'loopback http for a confidential client',
        body: { ...valid, type: 'confidential' },
        pointer: '/body/redirectUris/0',
      },
      {
        name: 'a relative redirect URI',
        body: { ...valid, redirectUris: ['/callback'] },
        pointer: '/body/redirectUris/0',
      },
      {
        name: 'a scheme that is not a reverse domain name',
        body: { ...valid, redirectUris: ['javascript:alert(1)'] },
        pointer: '/body/redirectUris/0',
      },
      {
        name: 'a fragment',
        body: { ...valid, redirectUris: ['https://app.example/cb#x'] },
        pointer: '/body/redirectUris/0',
      },
      {
        name: 'the implicit grant',
        body: { ...valid, grantTypes: ['implicit'] },
        pointer: '/body/grantTypes/0',
      },
      {
        name: 'the password grant',
        body: { ...valid, grantTypes: ['authorization_code', 'password'] },
        pointer: '/body/grantTypes/1',
      },
      {
        name: 'client credentials for a public client',
        body: { ...valid, grantTypes: ['client_credentials'], redirectUris: [] },
        pointer: '/body/grantTypes',
      },
      {
        name: 'authorization code without a redirect URI',
        body: { ...valid, redirectUris: [] },
        pointer: '/body/redirectUris',
      },
      {
        name: 'an unknown scope',
        body: { ...valid, scope: 'openid admin:everything' },
        pointer: '/body/scope',
      },
      {
        name: 'a JWKS for a public client',
        body: { ...valid, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } },
        pointer: '/body/jwks',
      },
      {
        name: 'a private key in the JWKS',
        body: {
          ...valid,
          type: 'private-key-jwt',
          grantTypes: ['client_credentials'],
          redirectUris: [],
          jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'private' }] },
        },
        pointer: '/body/jwks/keys/0/d',
      },
      {
        name: 'a private-key-jwt client without a JWKS',
        body: { ...valid, type: 'private-key-jwt', grantTypes: ['client_credentials'], redirectUris: [] },
        pointer: '/body/jwks',
      },
      { name: 'a client id with a slash', body: { ...valid, clientId: 'a/b' }, pointer: '/body/clientId' },
    ]
    for (const c of cases) {
      const clientId = (c.body.clientId as string | undefined) ?? `bad-${randomUUID()}`
      const res = await api('POST', '/admin/clients', adminToken, { clientId, ...c.body })
      assert.equal(res.status, 400, c.name)
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/, c.name)
      const problem = (await res.json()) as { type: string; errors?: { pointer: string }[] }
      assert.equal(problem.type, 'urn:vigil:problem:validation-failed', c.name)
      assert.ok(
        problem.errors?.some((e) => e.pointer === c.pointer),
        `${c.name}: ${JSON.stringify(problem.errors)}`,
      )
    }
    assert.ok(!(await listedIds()).some((id) => id.startsWith('bad-')), 'nothing invalid was stored')
  })

  test('[SRS-OAUTH-010] registering an existing client id answers 409 and leaves the client as it was', async () => {
    const clientId = `dup-${randomUUID()}`
    const first = await api('POST', '/admin/clients', adminToken, {
      clientId,
      type: 'confidential',
      grantTypes: ['client_credentials'],
      scope: 'account:read',
    })
    const { clientSecret } = (await first.json()) as { clientSecret: string }
    const again = await api('POST', '/admin/clients', adminToken, {
      clientId,
      type: 'public',
      grantTypes: ['authorization_code'],
      redirectUris: ['http://127.0.0.1/cb'],
      scope: 'openid',
    })
    assert.equal(again.status, 409)
    assert.match(String(again.headers.get('content-type')), /^application\/problem\+json/)
    assert.deepEqual(
      (({ type, code, status }) => ({ type, code, status }))((await again.json()) as Record<string, unknown>),
      { type: 'urn:vigil:problem:client-id-taken', code: 'CLIENT_ID_TAKEN', status: 409 },
    )
    // Still confidential, and the first secret still works.
    const tokens = await client.clientCredentialsGrant(
      await s.discover(clientId, client.ClientSecretBasic(clientSecret)),
      { scope: 'account:read' },
    )
    assert.ok(tokens.access_token)
  })
})
