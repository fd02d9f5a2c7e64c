// Authorization code + PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700) through Vigil's own sign-in pages,
// driven by openid-client; the refusals each with the right OAuth error.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { oidcStorageId } from '../../src/security/oauth-server/postgres-adapter.ts'
import { totpCode } from '../../src/modules/users/index.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  followDoubleClicking,
  nativeAppMetadata,
  postForm,
  signInThroughForms,
  TEST_PASSWORD,
} from '../support/identity.ts'
import {
  oauthError,
  pkceAuthorizationRequest,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'

describe('authorization code with PKCE through the sign-in pages', () => {
  let s: OAuthTestServer
  let config: client.Configuration
  const appId = `app-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49152/callback' // any loopback port (RFC 8252 §7.3)
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let clinician: Awaited<ReturnType<typeof createTestUser>>

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    const users = createAccountDirectory({ db: s.db, keyring: createKeyring(TEST_KEYRING) }).users
    const org = await users.createOrganisation(`Clinic ${randomUUID()}`)
    patient = await createTestUser(s.db, {
      email: `patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org.id }],
    })
    clinician = await createTestUser(s.db, {
      email: `clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org.id }],
      totp: true,
    })
    config = await s.discover(appId, client.None())
  })
  after(() => s.close())

  // OpenID Connect Core §11: offline_access (a refresh token) needs prompt=consent.
  const authorize = (extra: Record<string, string> = {}) =>
    pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid offline_access account:read',
      prompt: 'consent',
      ...extra,
    })

  async function signIn(
    who: { email: string; totpSecret?: string | undefined },
    extra: Record<string, string> = {},
  ) {
    const req = await authorize(extra)
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: who.email,
      password: TEST_PASSWORD,
      totpSecret: who.totpSecret,
    })
    assert.ok(
      landed.url.startsWith(redirectUri),
      `landed on ${landed.url} (${landed.status}) ${landed.page?.slice(0, 300) ?? ''}`,
    )
    return { ...req, callback: new URL(landed.url) }
  }

  const me = (token: string) =>
    fetch(`${s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${token}` } })

  test('[SRS-OAUTH-002] a patient signs in; the code and verifier yield tokens; the access token works on the API', async () => {
    const { callback, verifier, state } = await signIn(patient)
    assert.equal(callback.searchParams.get('iss'), s.issuer, 'RFC 9207: iss in the authorization response')
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token')
    assert.equal(tokens.claims()?.sub, patient.id)
    const res = await me(tokens.access_token)
    assert.equal(res.status, 200)
    const body = (await res.json()) as { kind: string; id: string; roles: string[] }
    assert.equal(body.kind, 'user')
    assert.equal(body.id, patient.id)
    assert.deepEqual(body.roles, ['patient'])
  })

  test("[SRS-OAUTH-533] a sign-in-only client (openid email profile, on openid-client's defaults) gets an access token the userinfo endpoint accepts, and the API refuses it", async () => {
    const { callback, verifier, state } = await signIn(patient, { scope: 'openid email profile' })
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    const info = await client.fetchUserInfo(config, tokens.access_token, patient.id)
    assert.equal(info.sub, patient.id)
    assert.equal(info.email, patient.email)
    // A token for the userinfo endpoint is no API token: it names no audience of the API's.
    const res = await me(tokens.access_token)
    assert.equal(res.status, 401)
    // With an API scope the token is for the API, as before, and the API accepts it.
    const api = await signIn(patient)
    const apiTokens = await client.authorizationCodeGrant(config, api.callback, {
      pkceCodeVerifier: api.verifier,
      expectedState: api.state,
    })
    assert.equal((await me(apiTokens.access_token)).status, 200)
  })

  test('[SRS-OAUTH-002][SRS-AUTH-004] a clinician must give a TOTP code; the id token records both factors', async () => {
    const { callback, verifier, state } = await signIn(clinician)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp'])
  })

  /** Signs in with the password and posts `code` to the second-factor form; returns that answer. */
  async function submitTotp(email: string, code: string) {
    const jar = new CookieJar()
    const first = await followUntilOutside(s.issuer, (await authorize()).url.href, jar)
    const loginAction = new URL(
      /action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '',
      s.issuer,
    ).toString()
    const second = await followUntilOutside(
      s.issuer,
      loginAction,
      jar,
      postForm({ email, password: TEST_PASSWORD, csrf: csrfOf(first.page ?? '') }),
    )
    const totpAction = new URL(
      /action="([^"]*\/totp)"/.exec(second.page ?? '')?.[1] ?? '',
      s.issuer,
    ).toString()
    return followUntilOutside(s.issuer, totpAction, jar, postForm({ code, csrf: csrfOf(second.page ?? '') }))
  }

  test('[SRS-AUTH-004] TOTP through the sign-in pages: a code accepted once is refused when reused', async () => {
    const user = await createTestUser(s.db, {
      email: `reuse-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
      totp: true,
    })
    const code = totpCode(user.totpSecret ?? '', new Date())
    const first = await submitTotp(user.email, code)
    assert.ok(first.url.startsWith(redirectUri), 'the first use signs in')
    const again = await submitTotp(user.email, code)
    assert.equal(again.status, 401)
    assert.match(again.page ?? '', /already used/)
  })

  test('[SRS-AUTH-004] TOTP through the sign-in pages: after five wrong codes the sixth is refused even when right', async () => {
    const user = await createTestUser(s.db, {
      email: `lock-${randomUUID()}@demo.test`,
      roles: [{ role: 'admin', organisationId: null }],
      totp: true,
    })
    const right = totpCode(user.totpSecret ?? '', new Date())
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0')
    for (let i = 0; i < 5; i++) assert.equal((await submitTotp(user.email, wrong)).status, 401)
    const sixth = await submitTotp(user.email, right)
    assert.equal(sixth.status, 401, 'locked for 15 minutes: the right code is refused')
    assert.ok(!sixth.url.startsWith(redirectUri))
  })

  test('[SRS-AUTH-004] a clinician without a second factor must enrol at the next login: QR code, first code, recovery codes once, then tokens', async () => {
    const users = createAccountDirectory({ db: s.db, keyring: createKeyring(TEST_KEYRING) }).users
    const org = await users.createOrganisation(`Enrol ${randomUUID()}`)
    const fresh = await createTestUser(s.db, {
      email: `new-clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org.id }],
    })
    const req = await authorize()
    const jar = new CookieJar()
    const first = await followUntilOutside(s.issuer, req.url.href, jar)
    const loginAction = new URL(
      /action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '',
      s.issuer,
    ).toString()
    const enrol = await followUntilOutside(
      s.issuer,
      loginAction,
      jar,
      postForm({ email: fresh.email, password: TEST_PASSWORD, csrf: csrfOf(first.page ?? '') }),
    )
    assert.match(enrol.page ?? '', /<img src="data:image\/svg\+xml/, 'a QR code')
    const secret = /enter this key by hand: <code>([A-Z2-7]+)<\/code>/.exec(enrol.page ?? '')?.[1]
    assert.ok(secret, 'the key for manual entry')
    const enrolAction = new URL(
      /action="([^"]*\/enrol)"/.exec(enrol.page ?? '')?.[1] ?? '',
      s.issuer,
    ).toString()
    const codes = await followUntilOutside(
      s.issuer,
      enrolAction,
      jar,
      postForm({ code: totpCode(secret, new Date()), csrf: csrfOf(enrol.page ?? '') }),
    )
    const recovery = [...(codes.page ?? '').matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1])
    assert.equal(recovery.length, 10, 'ten recovery codes shown once')
    const continueAction = new URL(
      /action="([^"]*\/continue)"/.exec(codes.page ?? '')?.[1] ?? '',
      s.issuer,
    ).toString()
    const landed = await followUntilOutside(
      s.issuer,
      continueAction,
      jar,
      postForm({ csrf: csrfOf(codes.page ?? '') }),
    )
    assert.ok(landed.url.startsWith(redirectUri), landed.page?.slice(0, 300))
    const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp'])
  })

  test('[SRS-OAUTH-008] an unknown email and a wrong password get the identical page', async () => {
    const pageFor = async (email: string, password: string) => {
      const jar = new CookieJar()
      const first = await followUntilOutside(s.issuer, (await authorize()).url.href, jar)
      const csrf = /name="csrf" value="([^"]+)"/.exec(first.page ?? '')?.[1] ?? ''
      const action = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer).toString()
      const res = await fetch(action, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email, password, csrf }),
      })
      const html = await res.text()
      return { status: res.status, error: /<p class="error"[^>]*>([^<]*)</.exec(html)?.[1] }
    }
    const unknown = await pageFor(`nobody-${randomUUID()}@demo.test`, TEST_PASSWORD)
    const wrong = await pageFor(patient.email, 'not the password at all')
    assert.equal(unknown.status, 401)
    assert.deepEqual(unknown, wrong)
  })

  test('[SRS-OAUTH-002] without PKCE, or with plain PKCE, the request is refused with invalid_request', async () => {
    for (const params of [
      { code_challenge: '', code_challenge_method: '' },
      { code_challenge_method: 'plain' },
    ] as Record<string, string>[]) {
      const base: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: 'openid',
        state: 'x',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      }
      const url = client.buildAuthorizationUrl(config, { ...base, ...params })
      if (params.code_challenge === '') {
        url.searchParams.delete('code_challenge')
        url.searchParams.delete('code_challenge_method')
      }
      const landed = await followUntilOutside(s.issuer, url.href, new CookieJar())
      assert.ok(landed.url.startsWith(redirectUri), landed.url)
      assert.equal(new URL(landed.url).searchParams.get('error'), 'invalid_request')
    }
  })

  test('[SRS-OAUTH-002] a wrong code verifier is refused with invalid_grant', async () => {
    const { callback, state } = await signIn(patient)
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: state,
      }),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-002] a replayed code is refused, and the tokens it issued stop working', async () => {
    const { callback, verifier, state } = await signIn(patient)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    assert.equal((await me(tokens.access_token)).status, 200)
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      (err) => oauthError(err) === 'invalid_grant',
    )
    assert.equal(
      (await me(tokens.access_token)).status,
      401,
      'the access token from the first exchange is revoked',
    )
    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token ?? ''),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-538] each resume of a sign-in sent twice at once goes on once: the other is refused, and one code reaches the app', async () => {
    const { url, verifier, state } = await authorize()
    const jar = new CookieJar()
    const first = await followUntilOutside(s.issuer, url.href, jar)
    const login = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer)
    // Each resume of the interaction is sent twice at once, as a double click does. On PostgreSQL
    // the two overlap; on PGlite, one connection, they may run one after the other (the adapter's
    // test makes them overlap on both).
    const end = await followDoubleClicking(
      s.issuer,
      login.href,
      jar,
      postForm({ email: patient.email, password: TEST_PASSWORD, csrf: csrfOf(first.page ?? '') }),
      (at) => /^\/oauth\/authorize\/[^/]+$/.test(at.pathname),
    )
    assert.ok(end.pairs.length >= 1, 'the sign-in was resumed')
    for (const [i, pair] of end.pairs.entries()) {
      const statuses = pair.map((r) => r.status).join(', ')
      const went = pair.filter((r) => r.status >= 300 && r.status < 400)
      const refused = pair.filter((r) => r.status === 400)
      assert.equal(went.length, 1, `resume ${i + 1}: one goes on (${statuses})`)
      assert.equal(refused.length, 1, `resume ${i + 1}: the other is refused (${statuses})`)
      assert.equal(refused[0]?.location, null, 'the refused one redirects nowhere, so carries no code')
    }
    const callback = new URL(end.url)
    assert.ok(end.url.startsWith(redirectUri) && callback.searchParams.get('code'), `landed on ${end.url}`)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    assert.equal((await me(tokens.access_token)).status, 200, "the one code is the app's")
  })

  test('[SRS-OAUTH-536] [SRS-OAUTH-537] a code, then a refresh token, redeemed by several requests at once gives tokens to one of them at most, and the replay revokes the grant, so no token any of them got works', async () => {
    const form = (fields: Record<string, string>) =>
      fetch(`${s.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: appId, ...fields }).toString(),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, string> }))
    const atOnce = <T>(n: number, f: () => Promise<T>) => Promise.all(Array.from({ length: n }, f))
    // Once the replay has revoked the grant, neither token a redemption got works, the access token
    // included (saved after the revocation, it would outlive its grant).
    const assertRevoked = async (tokens: Record<string, string>) => {
      assert.equal((await me(tokens.access_token ?? '')).status, 401)
      assert.equal(
        (await form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' })).status,
        400,
      )
    }

    // Eight redemptions of one code at once: one gets tokens at most, the rest are replays.
    const raced = await signIn(patient)
    const code = raced.callback.searchParams.get('code') ?? ''
    const redeemed = await atOnce(8, () =>
      form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: raced.verifier,
      }),
    )
    const won = redeemed.filter((r) => r.status === 200)
    assert.ok(won.length <= 1, `${won.length} of 8 got tokens for one code`)
    for (const r of redeemed.filter((x) => x.status !== 200)) assert.equal(r.body.error, 'invalid_grant')
    for (const r of won) await assertRevoked(r.body)

    // Eight refreshes with one refresh token at once: one rotation at most.
    const { callback, verifier, state } = await signIn(patient)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    const refreshed = await atOnce(8, () =>
      form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' }),
    )
    const rotated = refreshed.filter((r) => r.status === 200)
    assert.ok(rotated.length <= 1, `${rotated.length} of 8 got tokens for one refresh token`)
    for (const r of refreshed.filter((x) => x.status !== 200)) assert.equal(r.body.error, 'invalid_grant')
    for (const r of rotated) await assertRevoked(r.body)
    assert.equal(
      (await me(tokens.access_token)).status,
      401,
      'the access token before the race is revoked too',
    )
  })

  test('[SRS-OAUTH-002] an unregistered or near-miss redirect URI is refused without any redirect', async () => {
    for (const bad of [
      'http://127.0.0.1:49152/callback/',
      'http://127.0.0.1:49152/callbackx',
      'http://localhost:49152/callback',
      'https://evil.example/callback',
      'com.example.vigil:/callback2',
    ]) {
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: bad,
        scope: 'openid',
        state: 'x',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      })
      const res = await fetch(url, { redirect: 'manual' })
      assert.equal(res.status, 400, bad)
      assert.equal(res.headers.get('location'), null, `no redirect to ${bad}`)
      assert.match(await res.text(), /invalid_redirect_uri/)
    }
  })

  test('[SRS-OAUTH-005] refresh tokens rotate; reusing a rotated one kills the whole grant', async () => {
    const { callback, verifier, state } = await signIn(patient)
    const first = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    const second = await client.refreshTokenGrant(config, first.refresh_token ?? '')
    assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token, 'rotated')
    assert.equal((await me(second.access_token)).status, 200)
    await assert.rejects(
      client.refreshTokenGrant(config, first.refresh_token ?? ''),
      (err) => oauthError(err) === 'invalid_grant',
    )
    assert.equal(
      (await me(second.access_token)).status,
      401,
      'the grant is revoked: its newest access token dies too',
    )
    await assert.rejects(
      client.refreshTokenGrant(config, second.refresh_token),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-003] an expired access token answers 401 with WWW-Authenticate', async () => {
    const { callback, verifier, state } = await signIn(patient)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    assert.equal((await me(tokens.access_token)).status, 200)
    // Age the stored token past its expiry, as the clock would.
    await s.db.query(
      `UPDATE oidc_payloads SET expires_at = now() - interval '1 second',
         payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch FROM now())::int - 1)) WHERE model = 'AccessToken' AND id = $1`,
      [oidcStorageId(createKeyring(TEST_KEYRING), tokens.access_token)],
    )
    const res = await me(tokens.access_token)
    assert.equal(res.status, 401)
    assert.match(String(res.headers.get('www-authenticate')), /invalid_token/)
  })
})
