// Bad authorization requests in a real browser (issue 13; RFC 6749 §4.1.2.1, §3.1.2.4): a request
// that cannot be sent back to the application — no or an unknown client_id, a redirect_uri the
// client has not registered, also when aud is malformed or names another server — ends on a page
// a person can read (a heading, what went wrong, what to do, a reference; no stack trace, no JSON,
// the security headers and CSP), is audited, and issues nothing. A request that can be sent back
// (unknown or expired launch, unknown scope, aud naming another server) reaches the app's redirect
// URI with the OAuth error the specifications name, and is audited too. Debian Chromium through
// playwright-core.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Browser, BrowserContext, Page, Response } from 'playwright-core'
import { launchChromium } from '../support/browser.ts'
import { createTestUser } from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { mintToken } from '../support/world.ts'

describe('OAuth authorization errors in Chromium', () => {
  let s: OAuthTestServer
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let fhirBase = ''
  let patientId = ''
  let clinician: Awaited<ReturnType<typeof createTestUser>>
  const app = `error-page-app-${randomUUID()}`
  const launcher = `error-page-launcher-${randomUUID()}`
  let appServer: Server
  let redirectUri = ''
  /** The URLs the app's redirect URI received (a real loopback listener, as a native app runs). */
  const arrivals: string[] = []
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    await s.clients.upsert({
      clientId: app,
      metadata: {
        client_id: app,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: 'openid fhirUser launch launch/patient patient/*.rs user/*.rs',
        first_party: true,
      },
    })
    await s.clients.upsert({
      clientId: launcher,
      secret: 'a-long-random-client-secret-0123456789abcdef',
      metadata: {
        client_id: launcher,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'account:read',
      },
    })
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `Error page clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    clinician = await createTestUser(s.db, {
      email: `error-page-clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org }],
      totp: true,
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        organisationId: org,
        demographics: { name: { family: 'Refused' } },
      })
    ).id
    await s.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, clinician.id, org],
    )
    browser = await launchChromium()
    context = await browser.newContext()
    page = await context.newPage()
    appServer = createServer((req, res) => {
      arrivals.push(new URL(req.url ?? '/', redirectUri).href)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('the app')
    })
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve))
    redirectUri = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/callback`
  })
  after(async () => {
    await browser?.close()
    await new Promise((resolve) => appServer?.close(resolve))
    await s?.close()
  })

  const authorizeUrl = (params: Record<string, string | undefined>) => {
    const url = new URL(`${s.issuer}/oauth/authorize`)
    const all: Record<string, string | undefined> = {
      client_id: app,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'launch/patient patient/*.rs',
      aud: fhirBase,
      state: `state-${randomUUID()}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...params,
    }
    for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v)
    return url.href
  }

  /**
   * Rows that would mean something was issued or begun for these clients (the app, and any
   * client_id the request named): codes, tokens, grants, sign-in interactions. Counted per client,
   * so other test files sharing the database do not disturb it.
   */
  const issued = async (clientIds: readonly string[] = [app]) =>
    (
      await s.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM oidc_payloads
          WHERE model IN ('AuthorizationCode', 'AccessToken', 'RefreshToken', 'Interaction', 'Grant')
            AND (payload::jsonb->>'clientId' = ANY($1) OR payload::jsonb->'params'->>'client_id' = ANY($1))`,
        [clientIds],
      )
    ).rows[0]?.n ?? 0

  /** The audit entries of a refused authorization request (written just after the response: waited for). */
  async function auditedRefusals(requestId: string) {
    for (let i = 0; i < 100; i++) {
      const { rows } = await s.db.query<{
        decision_rule: string
        client_id: string | null
        actor_kind: string
        outcome: string
      }>(
        "SELECT decision_rule, client_id, actor_kind, outcome FROM audit_entries WHERE action = 'oauth.authorization' AND request_id = $1",
        [requestId],
      )
      if (rows.length > 0) return rows
      await new Promise((r) => setTimeout(r, 25))
    }
    return []
  }

  /** Opens the URL in Chromium; returns the authorization endpoint's response and where the page ended. */
  async function visit(url: string): Promise<{ authorize: Response; landed: string }> {
    const responses: Response[] = []
    const onResponse = (r: Response) => {
      if (r.url().startsWith(`${s.issuer}/oauth/authorize`)) responses.push(r)
    }
    page.on('response', onResponse)
    await page.goto(url, { waitUntil: 'load' })
    page.off('response', onResponse)
    const authorize = responses[0]
    assert.ok(authorize, 'the authorization endpoint answered')
    return { authorize, landed: page.url() }
  }

  const pageCases = [
    {
      name: 'no client_id',
      params: { client_id: undefined },
      heading: 'Sign-in request not valid',
      error: 'invalid_request',
    },
    {
      name: 'an unknown client_id',
      params: { client_id: `no-such-app-${randomUUID()}` },
      heading: 'Unknown application',
      error: 'invalid_client',
    },
    {
      name: 'a redirect_uri the client has not registered',
      params: { redirect_uri: 'https://attacker.example/callback' },
      heading: 'Unrecognised return address',
      error: 'invalid_redirect_uri',
    },
    {
      name: 'aud naming another server, with an unregistered redirect_uri',
      params: { redirect_uri: 'https://attacker.example/callback', aud: 'https://other.example/fhir' },
      heading: 'Unrecognised return address',
      error: 'invalid_redirect_uri',
    },
    {
      name: 'a malformed aud, with an unregistered redirect_uri',
      params: { redirect_uri: 'https://attacker.example/callback', aud: 'not a url' },
      heading: 'Unrecognised return address',
      error: 'invalid_redirect_uri',
    },
  ] as const

  for (const c of pageCases) {
    test(`[SRS-OAUTH-531] ${c.name}: Chromium shows a readable error page with the security headers, the refusal is audited, nothing is issued`, async () => {
      const named = [app, ...('client_id' in c.params && c.params.client_id ? [c.params.client_id] : [])]
      const before = await issued(named)
      const arrived = arrivals.length
      const { authorize, landed } = await visit(authorizeUrl(c.params))
      // Not sent anywhere: the page is the authorization endpoint's own answer.
      assert.ok(landed.startsWith(`${s.issuer}/oauth/authorize`), landed)
      assert.equal(arrivals.length, arrived, 'the app was not reached')
      assert.equal(authorize.status(), 400)
      const headers = authorize.headers()
      assert.match(headers['content-type'] ?? '', /^text\/html/)
      const csp = headers['content-security-policy'] ?? ''
      for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"])
        assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`)
      assert.equal(headers['x-frame-options'], 'DENY')
      assert.equal(headers['x-content-type-options'], 'nosniff')
      assert.equal(headers['referrer-policy'], 'no-referrer')
      assert.equal(headers['cache-control'], 'no-store')

      // What a person reads: a heading, what went wrong, what to do, a reference.
      assert.equal(await page.locator('h1').innerText(), c.heading)
      assert.equal(await page.locator('h2').innerText(), 'What to do')
      const text = await page.locator('body').innerText()
      assert.match(text, /go back to the application/i)
      assert.match(text, /give them the reference/)
      const requestId = headers['x-request-id'] ?? ''
      assert.ok(requestId && text.includes(requestId), 'the reference is the request id')
      assert.ok(text.includes(c.error), `names the error ${c.error}`)
      // No stack trace, no JSON, no request parameter echoed back.
      const source = await page.content()
      assert.doesNotMatch(source, /\n\s+at .+:\d+:\d+/)
      assert.doesNotMatch(source, /[{[]\s*"/)
      assert.doesNotMatch(source, /attacker\.example|other\.example|no-such-app|not a url/)
      // The stylesheet came through the CSP: the page is styled, not raw.
      assert.ok(((await page.evaluate('document.styleSheets.length')) as number) >= 1)

      const entries = await auditedRefusals(requestId)
      assert.ok(entries.length >= 1, 'the refusal is audited')
      assert.ok(
        entries.every((e) => e.outcome === 'denied'),
        JSON.stringify(entries),
      )
      assert.ok(
        entries.some((e) => e.decision_rule === c.error),
        JSON.stringify(entries),
      )
      if (c.error === 'invalid_redirect_uri')
        assert.ok(entries.every((e) => e.client_id === app && e.actor_kind === 'client'))
      else assert.ok(entries.every((e) => e.client_id === null && e.actor_kind === 'anonymous'))
      assert.equal(await issued(named), before, 'no code, token, grant or sign-in was created')
    })
  }

  test('[SRS-OAUTH-531] control: the same request with a registered redirect_uri reaches the sign-in page, and the count of what was begun sees it', async () => {
    const before = await issued()
    const { landed } = await visit(authorizeUrl({}))
    assert.match(landed, /\/interaction\//)
    assert.ok((await page.locator('form').count()) >= 1, 'the sign-in form')
    assert.ok((await issued()) > before, 'an interaction was begun')
  })

  async function newLaunch(): Promise<string> {
    const token = await mintToken(s.app, s.issuer, {
      clientId: launcher,
      accountId: clinician.id,
      scope: 'openid patients:read',
    })
    const res = await fetch(`${s.issuer}/api/v2/smart/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: app, patient: patientId }),
    })
    assert.equal(res.status, 201)
    return ((await res.json()) as { launch: string }).launch
  }

  const redirectCases: ReadonlyArray<{
    name: string
    params: () => Promise<Record<string, string>>
    error: string
  }> = [
    {
      name: 'an unknown launch',
      params: async () => ({ scope: 'launch patient/*.rs', launch: 'A'.repeat(32) }),
      error: 'invalid_request',
    },
    {
      name: 'an expired launch',
      params: async () => {
        const launch = await newLaunch()
        await s.db.query(
          "UPDATE smart_launch_contexts SET expires_at = now() - interval '1 second' WHERE id = $1",
          [launch],
        )
        return { scope: 'launch patient/*.rs', launch }
      },
      error: 'invalid_request',
    },
    {
      name: 'an unknown scope',
      params: async () => ({ scope: 'launch/patient patient/*.rs made-up:scope' }),
      error: 'invalid_scope',
    },
    {
      name: 'aud naming another FHIR server',
      params: async () => ({ aud: 'https://other.example/fhir' }),
      error: 'invalid_request',
    },
  ]

  for (const c of redirectCases) {
    test(`[SRS-OAUTH-532] ${c.name}: Chromium is sent back to the app's redirect URI with ${c.error} and the state, no code; the refusal is audited`, async () => {
      const params = await c.params()
      const before = await issued()
      const state = `state-${randomUUID()}`
      const { authorize, landed } = await visit(authorizeUrl({ ...params, state }))
      assert.ok(landed.startsWith(redirectUri), landed)
      assert.ok(arrivals.includes(landed), 'the app received the error')
      const back = new URL(landed)
      assert.equal(back.searchParams.get('error'), c.error)
      assert.equal(back.searchParams.get('state'), state)
      assert.equal(back.searchParams.get('iss'), s.issuer, 'RFC 9207: the issuer is named')
      assert.equal(back.searchParams.get('code'), null)
      const entries = await auditedRefusals(authorize.headers()['x-request-id'] ?? '')
      assert.equal(entries.length, 1, JSON.stringify(entries))
      assert.equal(entries[0]?.decision_rule, c.error)
      assert.equal(entries[0]?.client_id, app)
      assert.equal(entries[0]?.outcome, 'denied')
      assert.equal(await issued(), before, 'no code, token, grant or sign-in was created')
    })
  }
})
