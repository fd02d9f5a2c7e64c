// Client credentials (RFC 6749 §4.4) for devices and services, with private_key_jwt (RFC 7523)
// and client_secret_basic, driven by openid-client; the token then works on the API, and
// introspection (RFC 7662) and revocation (RFC 7009) behave for authenticated clients only.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { exportJWK, generateKeyPair } from 'jose'
import * as client from 'openid-client'
import { openIsolatedDatabase } from '../support/app.ts'
import { nativeAppMetadata } from '../support/identity.ts'
import {
  authorizationParams,
  authorizationUrl,
  oauthError,
  registerSecretClient,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'
import { until } from '../integration/server-process.ts'

describe('client credentials for devices and services', () => {
  let s: OAuthTestServer
  const secretClientId = `svc-${randomUUID()}`
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const jwtClientId = `dev-${randomUUID()}`
  let privateKey: client.CryptoKey

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({
      clientId: secretClientId,
      secret,
      metadata: {
        client_id: secretClientId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'account:read device-data:write',
      },
    })
    const pair = await generateKeyPair('ES256', { extractable: true })
    privateKey = pair.privateKey
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'device-key-1', alg: 'ES256', use: 'sig' }
    await s.clients.upsert({
      clientId: jwtClientId,
      metadata: {
        client_id: jwtClientId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [publicJwk] },
        scope: 'account:read device-data:write',
      },
    })
  })
  after(() => s.close())

  test('[SRS-OAUTH-001] discovery: openid-client reads the metadata at the root, and RFC 8414 metadata matches it', async () => {
    const config = await s.discover(secretClientId, client.ClientSecretBasic(secret))
    const meta = config.serverMetadata()
    assert.equal(meta.issuer, s.issuer)
    assert.equal(meta.token_endpoint, `${s.issuer}/oauth/token`)
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256'])
    assert.deepEqual(meta.response_types_supported, ['code'])
    assert.ok(
      !meta.grant_types_supported?.includes('implicit') && !meta.grant_types_supported?.includes('password'),
    )
    assert.equal(meta.authorization_response_iss_parameter_supported, true, 'RFC 9207')
    // A forged Host header does not move the endpoints off the issuer's host.
    // (node:http, since fetch does not let a caller set Host.)
    const forged = await new Promise<Record<string, unknown>>((resolve, reject) => {
      http
        .get(`${s.issuer}/.well-known/openid-configuration`, { headers: { host: 'evil.example' } }, (res) => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c.toString()))
          res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>))
        })
        .on('error', reject)
    })
    assert.equal(forged.token_endpoint, meta.token_endpoint)
    assert.equal(forged.issuer, s.issuer)
    const rfc8414 = (await (
      await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>
    assert.equal(rfc8414.issuer, s.issuer)
    assert.equal(rfc8414.token_endpoint, meta.token_endpoint)
    const jwks = (await (await fetch(String(meta.jwks_uri))).json()) as { keys: { d?: string }[] }
    assert.ok(
      jwks.keys.length >= 1 && jwks.keys.every((k: { d?: string }) => k.d === undefined),
      'public keys only',
    )
  })

  test('[SRS-OAUTH-004] private_key_jwt client credentials yield an opaque token that works on the API', async () => {
    const config = await s.discover(
      jwtClientId,
      client.PrivateKeyJwt({ key: privateKey, kid: 'device-key-1' }),
    )
    const tokens = await client.clientCredentialsGrant(config, { scope: 'account:read' })
    assert.equal(tokens.token_type.toLowerCase(), 'bearer')
    assert.ok(
      tokens.expires_in !== undefined && tokens.expires_in <= 900,
      'access tokens live at most 15 minutes',
    )
    assert.equal(tokens.access_token.split('.').length, 1, 'opaque, not a JWT')
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 200)
    assert.deepEqual(await me.json(), {
      kind: 'client',
      id: jwtClientId,
      clientId: jwtClientId,
      scopes: ['account:read'],
      roles: [],
    })
  })

  test('[SRS-OAUTH-004] a client assertion signed by another key is refused', async () => {
    const other = await generateKeyPair('ES256')
    const config = await s.discover(
      jwtClientId,
      client.PrivateKeyJwt({ key: other.privateKey, kid: 'device-key-1' }),
    )
    await assert.rejects(
      client.clientCredentialsGrant(config, { scope: 'account:read' }),
      (err) => oauthError(err) === 'invalid_client',
    )
  })

  test('[SRS-OAUTH-004] client_secret_basic works; a wrong secret is invalid_client; a scope outside the client is refused', async () => {
    const ok = await client.clientCredentialsGrant(
      await s.discover(secretClientId, client.ClientSecretBasic(secret)),
      { scope: 'device-data:write' },
    )
    assert.ok(ok.access_token)
    await assert.rejects(
      client.clientCredentialsGrant(
        await s.discover(secretClientId, client.ClientSecretBasic(`${secret}x`)),
        { scope: 'account:read' },
      ),
      (err) => oauthError(err) === 'invalid_client',
    )
    await assert.rejects(
      client.clientCredentialsGrant(await s.discover(secretClientId, client.ClientSecretBasic(secret)), {
        scope: 'device-data:read',
      }),
      (err) => oauthError(err) === 'invalid_scope',
    )
  })

  test('[SRS-OAUTH-003] a token without the scope a route needs is refused by the policy (403); no token → 401', async () => {
    const tokens = await client.clientCredentialsGrant(
      await s.discover(secretClientId, client.ClientSecretBasic(secret)),
      { scope: 'device-data:write' },
    )
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 403)
    const anon = await fetch(`${s.issuer}/api/v2/me`)
    assert.equal(anon.status, 401)
    assert.match(String(anon.headers.get('www-authenticate')), /^Bearer/)
  })

  test('[SRS-OAUTH-003] introspection shows an active token; after revocation it is inactive and the API answers 401', async () => {
    const config = await s.discover(secretClientId, client.ClientSecretBasic(secret))
    const tokens = await client.clientCredentialsGrant(config, { scope: 'account:read' })
    const before_ = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(before_.active, true)
    assert.equal(before_.client_id, secretClientId)
    await client.tokenRevocation(config, tokens.access_token)
    const after_ = await client.tokenIntrospection(config, tokens.access_token)
    assert.equal(after_.active, false)
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 401)
    assert.match(String(me.headers.get('www-authenticate')), /error="invalid_token"/)
  })

  test('[SRS-OAUTH-003] a token issued for another resource (the FHIR server) is refused by the API with 401', async () => {
    await s.clients.upsert({
      clientId: `${secretClientId}-fhir`,
      secret,
      metadata: {
        client_id: `${secretClientId}-fhir`,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'system/*.rs account:read',
      },
    })
    const config = await s.discover(`${secretClientId}-fhir`, client.ClientSecretBasic(secret))
    const tokens = await client.clientCredentialsGrant(config, {
      scope: 'system/*.rs',
      resource: `${s.issuer}/fhir/R4`,
    })
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(me.status, 401)
  })
})

// What an auditor reads about a failed OAuth request says whose failure it was: a refusal of the
// caller (4xx, denied) or the server's own failure (500, error), never one for the other.
describe('OAuth requests in the audit trail: refused by us, or failed on our side', () => {
  let s: OAuthTestServer
  let drop: () => Promise<void>
  const clientId = `audit-svc-${randomUUID()}`
  const appId = `audit-app-${randomUUID()}`
  const secret = 'a-long-random-client-secret-0123456789abcdef'

  before(async () => {
    // A database of its own: the test takes away a table the OAuth endpoints store their payloads in.
    const isolated = await openIsolatedDatabase()
    drop = isolated.drop
    s = await startOAuthTestServer({ deps: { db: isolated.db } })
    await registerSecretClient(s, clientId, secret, 'account:read')
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
  })
  after(async () => {
    await s?.close()
    await drop?.()
  })

  /** The OAuth endpoint's own audit entries of one request (beside the HTTP request's entry), once written. */
  async function entriesOf(requestId: string | null) {
    assert.ok(requestId, 'every answer carries its request id')
    return until(
      "the request's audit entry",
      async () => {
        const { rows } = await s.db.query<{
          action: string
          client_id: string | null
          outcome: string
          status: number
          decision_rule: string
        }>(
          "SELECT action, client_id, outcome, status, decision_rule FROM audit_entries WHERE request_id = $1 AND action LIKE 'oauth.%'",
          [requestId],
        )
        return rows.length > 0 ? rows : undefined
      },
      10_000,
    )
  }

  const tokenRequest = (password: string) =>
    fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${password}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=account%3Aread',
    })

  test('[SRS-AUDIT-029] a refused token request is denied with the status it was answered with; a server failure on the token and authorization endpoints is an error with 500', async () => {
    // A refusal of the caller: a wrong secret is 401 invalid_client, and the trail says so.
    const refused = await tokenRequest(`${secret}x`)
    assert.equal(refused.status, 401)
    assert.deepEqual(await entriesOf(refused.headers.get('x-request-id')), [
      {
        action: 'oauth.token',
        client_id: clientId,
        outcome: 'denied',
        status: 401,
        decision_rule: 'invalid_client',
      },
    ])
    assert.equal((await tokenRequest(secret)).status, 200, 'the grant works before the failure')

    // The server's own failure: the table the OAuth payloads live in is gone (not an outage, a fault).
    await s.db.exec('ALTER TABLE oidc_payloads RENAME TO oidc_payloads_away')
    try {
      const failed = await tokenRequest(secret)
      assert.equal(failed.status, 500)
      assert.equal(((await failed.json()) as { error: string }).error, 'server_error')
      assert.deepEqual(await entriesOf(failed.headers.get('x-request-id')), [
        {
          action: 'oauth.token',
          client_id: clientId,
          outcome: 'error',
          status: 500,
          decision_rule: 'server_error',
        },
      ])

      const authorize = authorizationUrl(s.issuer, appId)
      const page = await fetch(authorize, { headers: { accept: 'text/html' }, redirect: 'manual' })
      assert.equal(page.status, 500)
      assert.match(String(page.headers.get('content-type')), /^text\/html/)
      assert.deepEqual(await entriesOf(page.headers.get('x-request-id')), [
        {
          action: 'oauth.authorization',
          client_id: appId,
          outcome: 'error',
          status: 500,
          decision_rule: 'server_error',
        },
      ])
    } finally {
      await s.db.exec('ALTER TABLE oidc_payloads_away RENAME TO oidc_payloads')
    }
  })

  test('[SRS-AUDIT-030] every other OAuth endpoint audits its refusals with the OAuth error code, and its server failures as errors', async () => {
    const basic = (password: string) => `Basic ${Buffer.from(`${clientId}:${password}`).toString('base64')}`
    const post = (path: string, body: Record<string, string>, authorization?: string) =>
      fetch(`${s.issuer}${path}`, {
        method: 'POST',
        headers: {
          ...(authorization ? { authorization } : {}),
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(body).toString(),
      })
    const granted = (await (await tokenRequest(secret)).json()) as { access_token: string }
    const entry = (action: string, status: number, rule: string, client: string | null = clientId) => ({
      action,
      client_id: client,
      outcome: status >= 500 ? 'error' : 'denied',
      status,
      decision_rule: rule,
    })
    // Each refusal: the request, the status it is answered with, the entry that says why.
    const refusals: Array<[string, () => Promise<Response>, ReturnType<typeof entry>]> = [
      [
        'introspection with a wrong client secret',
        () => post('/oauth/introspect', { token: granted.access_token }, basic(`${secret}x`)),
        entry('oauth.introspection', 401, 'invalid_client'),
      ],
      [
        'revocation with a wrong client secret',
        () => post('/oauth/revoke', { token: granted.access_token }, basic(`${secret}x`)),
        entry('oauth.revocation', 401, 'invalid_client'),
      ],
      [
        'userinfo with a bearer token that is not one',
        () =>
          fetch(`${s.issuer}/oauth/userinfo`, {
            headers: { authorization: 'Bearer not-a-token-of-ours', accept: 'application/json' },
          }),
        entry('oauth.userinfo', 401, 'invalid_token', null),
      ],
      [
        'device authorization by a client not registered for the device flow',
        () => post('/oauth/device/auth', { scope: 'account:read' }, basic(secret)),
        entry('oauth.device_authorization', 400, 'invalid_request'),
      ],
      [
        'a pushed authorization request without a response_type',
        () =>
          post(
            '/oauth/par',
            Object.fromEntries(
              Object.entries(authorizationParams(appId)).filter(([k]) => k !== 'response_type'),
            ),
          ),
        entry('oauth.pushed_authorization_request', 400, 'invalid_request', appId),
      ],
      [
        'end-session with an id_token_hint that is not an ID token',
        () =>
          fetch(`${s.issuer}/oauth/logout?id_token_hint=not-an-id-token`, {
            headers: { accept: 'text/html' },
          }),
        entry('oauth.end_session', 400, 'invalid_request', null),
      ],
    ]
    for (const [what, call, expected] of refusals) {
      const res = await call()
      await res.body?.cancel()
      assert.equal(res.status, expected.status, what)
      assert.deepEqual(await entriesOf(res.headers.get('x-request-id')), [expected], what)
    }

    // The server's own failure at introspection and revocation: an error, never a refusal.
    await s.db.exec('ALTER TABLE oidc_payloads RENAME TO oidc_payloads_away')
    try {
      for (const [path, action] of [
        ['/oauth/introspect', 'oauth.introspection'],
        ['/oauth/revoke', 'oauth.revocation'],
      ] as const) {
        const failed = await post(path, { token: granted.access_token }, basic(secret))
        assert.equal(failed.status, 500, path)
        assert.equal(((await failed.json()) as { error: string }).error, 'server_error', path)
        assert.deepEqual(
          await entriesOf(failed.headers.get('x-request-id')),
          [entry(action, 500, 'server_error')],
          path,
        )
      }
    } finally {
      await s.db.exec('ALTER TABLE oidc_payloads_away RENAME TO oidc_payloads')
    }
  })
})
