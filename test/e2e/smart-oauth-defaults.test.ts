// OAuth defaults that do not trap a client (issue 13): a token request without `scope` gets the
// client's registered default (RFC 6749 §3.3); a token lacking a scope gets 403 insufficient_scope
// naming it (RFC 6750 §3.1); an unknown or unregistered scope is invalid_scope naming it; an `aud`
// that is not this FHIR server is refused (SMART App Launch §2.0.5). Driven with openid-client and
// plain HTTP against the real server; every refusal leaves an audit entry.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { nativeAppMetadata } from '../support/identity.ts'
import {
  oauthError,
  registerSecretClient,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'

describe('OAuth defaults and scope errors', () => {
  let s: OAuthTestServer
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const device = `dev-${randomUUID()}`
  const narrow = `narrow-${randomUUID()}`
  const service = `svc-${randomUUID()}`
  const app = `app-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49161/callback'

  const ccClient = (clientId: string, scope: string, extra: Record<string, unknown> = {}) =>
    registerSecretClient(s, clientId, secret, scope, extra)

  before(async () => {
    s = await startOAuthTestServer()
    await ccClient(device, 'device-data:write account:read')
    await ccClient(narrow, 'device-data:write account:read', { default_scope: 'device-data:write' })
    await ccClient(service, 'system/*.rs')
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `Defaults ${randomUUID()}`,
      ])
    ).rows[0]?.id
    await s.db.query('UPDATE oauth_clients SET organisation_id = $1 WHERE client_id = $2', [org, service])
    await s.clients.upsert({
      clientId: app,
      metadata: {
        ...nativeAppMetadata(app),
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
      },
    })
  })
  after(() => s.close())

  /** A client-credentials request as plain HTTP (client_secret_basic), to read refusals as sent. */
  const clientCredentialsRequest = (clientId: string, scope: string) =>
    fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
    })

  const token = async (clientId: string, params: Record<string, string> = {}) => {
    const config = await s.discover(clientId, client.ClientSecretBasic(secret))
    return client.clientCredentialsGrant(config, params)
  }

  test('[SRS-OAUTH-300] a client-credentials request without scope gets the registered default scope, and its first call works', async () => {
    const all = await token(device)
    assert.deepEqual(String(all.scope).split(' ').sort(), ['account:read', 'device-data:write'])
    const me = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${all.access_token}` },
    })
    assert.equal(me.status, 200)
    // default_scope narrower than the registered scope: only it is given.
    const only = await token(narrow)
    assert.equal(only.scope, 'device-data:write')
    // A SMART backend service without scope gets system/*.rs, for the FHIR server.
    const svc = await token(service)
    assert.equal(svc.scope, 'system/*.rs')
    const fhir = await fetch(`${s.issuer}/fhir/R4/Patient`, {
      headers: { authorization: `Bearer ${svc.access_token}` },
    })
    assert.equal(fhir.status, 200)
  })

  test('[SRS-OAUTH-301] a token lacking the scope an operation needs gets 403 INSUFFICIENT_SCOPE naming it, in the body and in WWW-Authenticate', async () => {
    const t = await token(narrow)
    const res = await fetch(`${s.issuer}/api/v2/me`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    })
    assert.equal(res.status, 403)
    assert.match(String(res.headers.get('content-type')), /application\/problem\+json/)
    const body = (await res.json()) as { code: string; scope: string; detail: string }
    assert.equal(body.code, 'INSUFFICIENT_SCOPE')
    assert.equal(body.scope, 'account:read openid')
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer realm="vigil", error="insufficient_scope", scope="account:read openid"',
    )
    // On the FHIR API: an OperationOutcome, and the SMART scope to ask for — the search's own
    // permission, `s` (ADR-0032).
    const svc = await token(service, { scope: 'system/Patient.rs' })
    const obs = await fetch(`${s.issuer}/fhir/R4/Observation`, {
      headers: { authorization: `Bearer ${svc.access_token}` },
    })
    assert.equal(obs.status, 403)
    assert.equal(
      obs.headers.get('www-authenticate'),
      'Bearer realm="vigil", error="insufficient_scope", scope="system/Observation.s"',
    )
    const outcome = (await obs.json()) as {
      resourceType: string
      issue: Array<{ code: string; diagnostics: string }>
    }
    assert.equal(outcome.resourceType, 'OperationOutcome')
    assert.equal(outcome.issue[0]?.code, 'forbidden')
    assert.match(String(outcome.issue[0]?.diagnostics), /system\/Observation\.s/)

    // The scope it names is one the client can then ask for (any SMART v2 permission set, not
    // only the .rs/.cu pairs), and it opens exactly that interaction: the search, not a read by id.
    const named = await token(service, { scope: 'system/Observation.s' })
    assert.equal(named.scope, 'system/Observation.s')
    const search = await fetch(`${s.issuer}/fhir/R4/Observation`, {
      headers: { authorization: `Bearer ${named.access_token}` },
    })
    assert.equal(search.status, 200, await search.text())
    const byId = await fetch(`${s.issuer}/fhir/R4/Observation/${randomUUID()}`, {
      headers: { authorization: `Bearer ${named.access_token}` },
    })
    assert.equal(byId.status, 403)
    assert.equal(
      byId.headers.get('www-authenticate'),
      'Bearer realm="vigil", error="insufficient_scope", scope="system/Observation.r"',
    )
  })

  test('[SRS-OAUTH-302] an unknown or unregistered scope at the token endpoint is invalid_scope naming it, and is audited', async () => {
    for (const [scope, named] of [
      ['device-data:write no-such-scope', 'no-such-scope'],
      ['admin:users', 'admin:users'],
      ['system/Nothing.rs', 'system/Nothing.rs'],
    ] as const) {
      const res = await clientCredentialsRequest(device, scope)
      assert.equal(res.status, 400, scope)
      const body = (await res.json()) as { error: string; error_description: string; access_token?: string }
      assert.equal(body.error, 'invalid_scope')
      assert.ok(body.error_description.endsWith(`: ${named}`), body.error_description)
      assert.equal(body.access_token, undefined)
    }
    // openid-client sees the same error.
    await assert.rejects(
      token(device, { scope: 'patients:write' }),
      (err) => oauthError(err) === 'invalid_scope',
    )
    const { rows } = await s.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'oauth.token' AND client_id = $1 AND decision_rule = 'invalid_scope' AND outcome = 'denied'",
      [device],
    )
    for (let i = 0; i < 50 && (rows[0]?.n ?? 0) < 4; i++) {
      await new Promise((r) => setTimeout(r, 20))
      rows.splice(
        0,
        1,
        ...(
          await s.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'oauth.token' AND client_id = $1 AND decision_rule = 'invalid_scope'",
            [device],
          )
        ).rows,
      )
    }
    assert.equal(rows[0]?.n, 4)
  })

  test('[SRS-OAUTH-302] every SMART v2 permission set is granted through the real grant exactly when the registration covers it, else invalid_scope naming it', async () => {
    // The authorization matrix mints its tokens directly; this walks the grant itself. A service
    // registered for Observation reads and Subscription create/delete asks, one at a time, for
    // each of the 31 permission sets of three types (Patient not registered at all).
    const registered: Record<string, string> = { Observation: 'rs', Subscription: 'cd', Patient: '' }
    const letters = ['c', 'r', 'u', 'd', 's'] as const
    const sets = Array.from({ length: 31 }, (_, i) =>
      letters.filter((_, bit) => (i + 1) & (1 << bit)).join(''),
    )
    const granular = `grant-walk-${randomUUID()}`
    await ccClient(granular, 'system/Observation.rs system/Subscription.cd')
    const mismatches: string[] = []
    for (const [type, have] of Object.entries(registered)) {
      for (const set of sets) {
        const scope = `system/${type}.${set}`
        const covered = [...set].every((p) => have.includes(p))
        const res = await clientCredentialsRequest(granular, scope)
        const body = (await res.json()) as { scope?: string; error?: string; error_description?: string }
        const got =
          res.status === 200
            ? `granted ${body.scope}`
            : `${res.status} ${body.error} ${body.error_description}`
        const want = covered
          ? `granted ${scope}`
          : `400 invalid_scope requested scope is not allowed: ${scope}`
        if (got !== want) mismatches.push(`${scope}: ${got} (expected ${want})`)
      }
    }
    assert.deepEqual(mismatches, [])
  })

  const authorize = async (params: Record<string, string>) => {
    const url = new URL(`${s.issuer}/oauth/authorize`)
    const verifier = client.randomPKCECodeVerifier()
    const all = {
      client_id: app,
      response_type: 'code',
      redirect_uri: redirectUri,
      state: 'st-1',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    }
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v)
    const res = await fetch(url, { redirect: 'manual' })
    const location = res.headers.get('location')
    return { status: res.status, location: location ? new URL(location, s.issuer) : undefined }
  }

  test('[SRS-OAUTH-302] an unknown or unregistered scope at the authorization endpoint returns invalid_scope naming it to the app, with no code', async () => {
    for (const [scope, named] of [
      ['openid patient/*.rs patient/Bogus.rs', 'patient/Bogus.rs'],
      ['openid patient/Observation.rs?', 'patient/Observation.rs?'],
      ['openid user/*.rs', 'user/*.rs'],
      ['openid admin:users', 'admin:users'],
    ] as const) {
      const r = await authorize({ scope, aud: `${s.issuer}/fhir/R4` })
      assert.equal(r.status, 303, scope)
      assert.ok(r.location?.href.startsWith(redirectUri), r.location?.href)
      assert.equal(r.location?.searchParams.get('error'), 'invalid_scope', scope)
      assert.match(
        String(r.location?.searchParams.get('error_description')),
        new RegExp(`${named.replace(/[.*?/]/g, '\\$&')}$`),
      )
      assert.equal(r.location?.searchParams.get('code'), null)
    }
  })

  test('[SRS-FHIR-303] an aud that is malformed or names another server is refused with invalid_request, audited, and no code', async () => {
    for (const aud of ['not a url', 'https://other.example/fhir/R4', `${s.issuer}/fhir/R3`]) {
      const r = await authorize({ scope: 'openid launch/patient patient/*.rs', aud })
      assert.equal(r.status, 303, aud)
      assert.equal(r.location?.searchParams.get('error'), 'invalid_request', aud)
      assert.match(String(r.location?.searchParams.get('error_description')), /^aud /)
      assert.equal(r.location?.searchParams.get('code'), null)
    }
    // This server's FHIR base (with or without the trailing slash) goes on to the sign-in page.
    for (const aud of [`${s.issuer}/fhir/R4`, `${s.issuer}/fhir/R4/`]) {
      const r = await authorize({ scope: 'openid launch/patient patient/*.rs', aud })
      assert.equal(r.status, 303)
      assert.ok(r.location?.pathname.startsWith('/interaction/'), r.location?.href)
    }
    let n = 0
    for (let i = 0; i < 50 && n < 3; i++) {
      n =
        (
          await s.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'oauth.authorization' AND client_id = $1 AND decision_rule = 'invalid_request'",
            [app],
          )
        ).rows[0]?.n ?? 0
      if (n < 3) await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(n, 3)
  })
})
