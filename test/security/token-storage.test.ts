// Issue 11 finding 4: opaque tokens were the primary key of oidc_payloads, so a backup handed out
// live access and refresh tokens. Tokens, codes, session cookies and user codes are now stored
// only as a keyed hash (ADR-0013). Issued through the real flows, none of them appears anywhere
// in the database — and they still authenticate, introspect, refresh and revoke.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { databaseText, secretsFoundIn } from '../support/db-text.ts'
import { DEVICE_GRANT, deviceGrantWorld, type devicePages } from '../support/device-flow.ts'
import {
  signInThroughForms,
  TEST_PASSWORD,
  type CookieJar,
  type createTestUser,
} from '../support/identity.ts'
import {
  oauthError,
  pkceAuthorizationRequest,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'

function cookie(jar: CookieJar, name: string): string {
  const pair = jar
    .header()
    .split('; ')
    .find((c) => c.startsWith(`${name}=`))
  return pair?.slice(name.length + 1) ?? ''
}

describe('tokens are stored only as keyed hashes', () => {
  let s: OAuthTestServer
  const webId = `web-${randomUUID()}`
  const webSecret = `web-secret-${randomUUID()}-${randomUUID()}`
  const redirectUri = 'https://app.example/callback'
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let web: client.Configuration
  let device: client.Configuration
  let deviceSecret: string
  let pages: ReturnType<typeof devicePages>
  const me = (token: string) =>
    fetch(`${s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${token}` } })

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({
      clientId: webId,
      secret: webSecret,
      metadata: {
        client_id: webId,
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid offline_access account:read',
        first_party: true,
      },
    })
    web = await s.discover(webId, client.ClientSecretBasic(webSecret))
    ;({ config: device, secret: deviceSecret, patient, pages } = await deviceGrantWorld(s))
  })
  after(() => s.close())

  test('[SRS-OAUTH-150] after real flows no token, code, session cookie or user code is anywhere in the database; the tokens still work, introspect, refresh and revoke', async () => {
    // Authorization code + PKCE with a refresh token, through the sign-in pages.
    const req = await pkceAuthorizationRequest(web, {
      redirectUri,
      scope: 'openid offline_access account:read',
      prompt: 'consent',
    })
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: patient.email,
      password: TEST_PASSWORD,
    })
    assert.ok(landed.url.startsWith(redirectUri), `landed on ${landed.url}`)
    const callback = new URL(landed.url)
    const code = callback.searchParams.get('code') ?? ''
    const sessionCookie = cookie(landed.jar, '_session')
    assert.ok(sessionCookie, 'the browser holds a session cookie')
    const first = await client.authorizationCodeGrant(web, callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    const rotated = await client.refreshTokenGrant(web, first.refresh_token ?? '')
    // Client credentials.
    const machine = await client.clientCredentialsGrant(web, { scope: 'account:read' })
    // Device authorization grant, paired by the patient.
    const auth = await client.initiateDeviceAuthorization(device, {
      scope: 'device-data:write account:read offline_access',
    })
    const paired = await pages.patientVisits(auth.user_code, { confirm: true, consent: 'allow' })
    assert.match(paired.page ?? '', /Device connected/)
    const deviceTokens = await client.genericGrantRequest(device, DEVICE_GRANT, {
      device_code: auth.device_code,
    })

    const secrets = {
      'authorization code': code,
      'session cookie': sessionCookie,
      'first access token': first.access_token,
      'first refresh token': first.refresh_token ?? '',
      'rotated access token': rotated.access_token,
      'rotated refresh token': rotated.refresh_token ?? '',
      'client credentials token': machine.access_token,
      'device code': auth.device_code,
      'user code': auth.user_code,
      'user code (normalised)': auth.user_code.replace(/[^A-Z]/g, ''),
      'device access token': deviceTokens.access_token,
      'device refresh token': String(deviceTokens.refresh_token ?? ''),
      'web client secret': webSecret,
      'device client secret': deviceSecret,
    }
    assert.deepEqual(
      secretsFoundIn(await databaseText(s.db), secrets),
      [],
      'no bearer value is stored in plaintext',
    )
    // The rows are there, under their hashes: the tokens still work.
    const stored = await s.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM oidc_payloads WHERE model IN ('AccessToken', 'RefreshToken', 'ClientCredentials')",
    )
    assert.ok((stored.rows[0]?.n ?? 0) >= 4)

    assert.equal((await me(rotated.access_token)).status, 200, 'the access token authenticates')
    assert.equal((await me(deviceTokens.access_token)).status, 200, 'the device-grant token authenticates')
    assert.equal((await me(machine.access_token)).status, 200, 'the client-credentials token authenticates')
    const introspected = await client.tokenIntrospection(web, rotated.access_token)
    assert.equal(introspected.active, true)
    assert.equal(introspected.sub, patient.id)
    assert.equal(
      (await client.tokenIntrospection(web, rotated.refresh_token ?? '')).active,
      true,
      'the refresh token introspects',
    )
    // The refresh token rotates once more; the rotated-out one is refused (reuse detection still finds the grant).
    const again = await client.refreshTokenGrant(web, rotated.refresh_token ?? '')
    assert.equal((await me(again.access_token)).status, 200)
    await assert.rejects(
      client.refreshTokenGrant(web, first.refresh_token ?? ''),
      (err) => oauthError(err) === 'invalid_grant',
    )
    assert.equal(
      (await me(again.access_token)).status,
      401,
      'reuse of a rotated refresh token revoked the whole grant',
    )
    // Revocation finds the token by its hash.
    assert.equal((await client.tokenIntrospection(web, machine.access_token)).active, true)
    await client.tokenRevocation(web, machine.access_token)
    assert.equal((await client.tokenIntrospection(web, machine.access_token)).active, false)
    const deviceRefresh = await client.refreshTokenGrant(device, String(deviceTokens.refresh_token))
    await client.tokenRevocation(device, String(deviceRefresh.refresh_token))
    await assert.rejects(
      client.refreshTokenGrant(device, String(deviceRefresh.refresh_token)),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-150] the stored key is the keyed hash: the same value hashed under another keyring finds nothing', async () => {
    const machine = await client.clientCredentialsGrant(web, { scope: 'account:read' })
    const { oidcStorageId } = await import('../../src/security/oauth-server/postgres-adapter.ts')
    const ours = oidcStorageId(createKeyring(TEST_KEYRING), machine.access_token)
    const other = oidcStorageId(
      createKeyring(`other:${Buffer.alloc(32, 9).toString('base64')}`),
      machine.access_token,
    )
    const rows = async (id: string) =>
      (await s.db.query('SELECT 1 FROM oidc_payloads WHERE id = $1', [id])).rows.length
    assert.equal(await rows(ours), 1)
    assert.equal(await rows(other), 0)
    assert.equal(await rows(machine.access_token), 0)
    // A forged handle (the stored hash with a made-up tag) is not a token.
    assert.equal((await me(`stored.${ours}.${'A'.repeat(43)}`)).status, 401)
    assert.equal((await me(ours)).status, 401, 'the stored hash presented as a token is refused')
  })
})
