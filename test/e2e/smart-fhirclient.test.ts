/* eslint-disable @typescript-eslint/no-explicit-any -- fhirclient's results are walked loosely; every FHIR body is schema-validated first */
// SMART's own JavaScript client (`fhirclient`), on its default settings, in Node with its node
// adapter behind a real HTTP server (the app's launch and redirect pages), launched through
// Vigil's real sign-in pages in Debian Chromium (issue 13, item 5): a standalone patient launch
// and an EHR launch, `client.patient` and `client.user` (fhirUser), a search with the token it
// got (paged through `next` links by the client), and a refresh. The app is registered exactly
// as `demo-smart-app` is: a third-party public client, so the consent page is shown and allowed.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.ts'
import { assertValidFhir, seedReadings } from '../support/fhir.ts'
import { createTestUser, TEST_PASSWORD } from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { freePort } from '../support/ports.ts'
import { mintToken } from '../support/world.ts'
import { totpCode } from '../../src/modules/users/index.ts'

// fhirclient's node entry is CommonJS (`require('fhirclient')` is the documented use in Node).
const smart = createRequire(import.meta.url)('fhirclient') as (
  req: IncomingMessage,
  res: ServerResponse,
  storage?: unknown,
) => {
  authorize(options: Record<string, unknown>): Promise<unknown>
  ready(): Promise<any>
}

/** A minimal SMART app: `/launch` calls `authorize`, `/callback` calls `ready`; sessions by cookie. */
class SmartApp {
  readonly sessions = new Map<string, Record<string, unknown>>()
  private waiting: { resolve: (c: any) => void; reject: (e: unknown) => void } | undefined
  server: Server | undefined
  base = ''

  constructor(private readonly options: { clientId: string; scope: string }) {}

  async start() {
    const port = await freePort()
    this.base = `http://127.0.0.1:${port}`
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve))
  }

  stop() {
    return new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** The next client `ready()` gives back (or its error). */
  nextClient(): Promise<any> {
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }))
  }

  private session(req: IncomingMessage, res: ServerResponse) {
    const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? randomUUID()
    if (!this.sessions.has(sid)) this.sessions.set(sid, {})
    res.setHeader('set-cookie', `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`)
    ;(req as IncomingMessage & { session: Record<string, unknown> }).session = this.sessions.get(
      sid,
    ) as Record<string, unknown>
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    this.session(req, res)
    const url = new URL(req.url ?? '/', this.base)
    try {
      if (url.pathname === '/launch') {
        // Standalone launch passes iss itself; an EHR launch arrives with ?iss=…&launch=….
        const iss = url.searchParams.get('iss') ?? url.searchParams.get('fhirServiceUrl')
        await smart(req, res).authorize({
          clientId: this.options.clientId,
          scope: this.options.scope,
          redirectUri: '/callback',
          ...(url.searchParams.has('launch') ? {} : { iss }),
        })
        return
      }
      if (url.pathname === '/callback') {
        const client = await smart(req, res).ready()
        res.writeHead(200, { 'content-type': 'text/plain' }).end('launched')
        this.waiting?.resolve(client)
        return
      }
      res.writeHead(404).end()
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('launch failed')
      this.waiting?.reject(err)
    }
  }
}

describe('fhirclient (SMART JavaScript client) on its defaults, through the sign-in pages in Chromium', () => {
  let s: OAuthTestServer
  let browser: Browser
  let fhirBase = ''
  const clientId = `fhirclient-app-${randomUUID()}`
  const consoleClient = `console-${randomUUID()}`
  let patient: Awaited<ReturnType<typeof createTestUser>>
  let clinician: Awaited<ReturnType<typeof createTestUser>>
  let patientId = ''
  let glucoseIds: string[] = []
  const apps: SmartApp[] = []

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    // Registered as seed-demo registers demo-smart-app: third party (consent shown), loopback redirects on any port.
    await s.clients.upsert({
      clientId,
      metadata: {
        client_id: clientId,
        client_name: 'fhirclient test app',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: 'openid fhirUser launch launch/patient patient/*.rs user/*.rs offline_access online_access',
      },
    })
    await s.clients.upsert({
      clientId: consoleClient,
      secret: 'a-long-random-client-secret-0123456789abcdef',
      metadata: {
        client_id: consoleClient,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid patients:read',
      },
    })
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `fhirclient clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    patient = await createTestUser(s.db, {
      email: `fhirclient-patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org }],
    })
    clinician = await createTestUser(s.db, {
      email: `fhirclient-clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org }],
      totp: true,
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        userId: patient.id,
        organisationId: org,
        demographics: { name: { family: 'Client', given: ['Fhir'] }, birthDate: '1980-02-03' },
      })
    ).id
    await s.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [patientId, clinician.id, org],
    )
    glucoseIds = await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 7 }, (_, i) => ({
        effectiveAt: new Date(Date.UTC(2026, 1, 1 + i)),
        content: { value: 95 + i, unit: 'mg/dL' },
      })),
    )
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    for (const a of apps) await a.stop()
    await s?.close()
  })

  async function startApp(scope: string) {
    const app = new SmartApp({ clientId, scope })
    await app.start()
    apps.push(app)
    return app
  }

  /** Signs in on Vigil's pages (TOTP when asked) and allows the consent page. */
  async function signIn(page: Page, login: { email: string; totpSecret?: string | undefined }) {
    await page.getByLabel('Email').fill(login.email)
    await page.getByLabel('Password').fill(TEST_PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    if (login.totpSecret) {
      await page.getByLabel('Code from your authenticator app').fill(totpCode(login.totpSecret, new Date()))
      await page.getByRole('button', { name: 'Verify' }).click()
    }
    await page.getByRole('button', { name: 'Allow' }).click()
  }

  /** Every page of a search, as fhirclient pages it (following `next` links), each Bundle validated. */
  async function searchAllPages(client: any, query: string) {
    const bundles: any[] = []
    await client.request(query, { pageLimit: 0, onPage: (bundle: any) => void bundles.push(bundle) })
    for (const b of bundles) assertValidFhir(b, query)
    return bundles
  }

  async function checkRefresh(client: any) {
    const before = client.state.tokenResponse.access_token as string
    const beforeRefresh = client.state.tokenResponse.refresh_token as string
    assert.ok(beforeRefresh, 'offline_access: a refresh token came with the first token response')
    await client.refresh()
    assert.notEqual(client.state.tokenResponse.access_token, before, 'a new access token')
    assert.notEqual(client.state.tokenResponse.refresh_token, beforeRefresh, 'the refresh token rotated')
    assert.equal(
      client.state.tokenResponse.patient,
      patientId,
      'the refreshed token keeps the launch patient',
    )
    const me = await client.patient.read()
    assertValidFhir(me)
    assert.equal(me.id, patientId)
    // A refresh without client_id is named from its token, and nothing else is relaxed: the consumed
    // refresh token, sent again the same way, is reuse (invalid_grant) and ends the grant; a made-up one is refused.
    const refresh = (token: string) =>
      fetch(`${s.issuer}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
      })
    const reused = await refresh(beforeRefresh)
    assert.equal(reused.status, 400)
    assert.equal(((await reused.json()) as { error: string }).error, 'invalid_grant')
    const gone = await fetch(`${fhirBase}/Patient/${patientId}`, {
      headers: { authorization: `Bearer ${client.state.tokenResponse.access_token}` },
    })
    assert.equal(gone.status, 401, 'reuse detection revoked the newest access token too')
    const madeUp = await refresh('x'.repeat(43))
    assert.equal(madeUp.status, 400)
    assert.ok(!('access_token' in ((await madeUp.json()) as object)))
  }

  test('[SRS-FHIR-520][SRS-OAUTH-522] standalone patient launch: fhirclient discovers at the FHIR base, sends PKCE, gets client.patient and client.user (fhirUser), searches page by page, and refreshes', async () => {
    const app = await startApp('openid fhirUser launch/patient patient/*.rs offline_access')
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const launched = app.nextClient()
      await page.goto(`${app.base}/launch?iss=${encodeURIComponent(fhirBase)}`)
      await signIn(page, { email: patient.email })
      const client = await launched
      assert.match(page.url(), /\/callback\?/)
      // The stock client used PKCE (S256) because discovery at [FHIR base] advertised it.
      assert.ok(client.state.codeVerifier, 'fhirclient sent a PKCE code challenge')
      assert.equal(client.getState('serverUrl'), fhirBase)
      assert.equal(client.patient.id, patientId)
      assert.equal(client.state.tokenResponse.need_patient_banner, true)
      assert.ok(
        !('smart_style_url' in client.state.tokenResponse),
        'smart_style_url is not offered (ADR-0026)',
      )
      assert.equal(client.user.fhirUser, `Patient/${patientId}`)
      assert.equal(client.user.resourceType, 'Patient')
      const me = await client.user.read()
      assertValidFhir(me)
      assert.equal(me.id, patientId)
      // A search with its own token, paged by the client through the `next` links.
      const bundles = await searchAllPages(client, `Observation?patient=${patientId}&_count=3`)
      assert.equal(bundles.length, 3)
      const ids = bundles.flatMap((b) => (b.entry ?? []).map((e: any) => e.resource.id))
      assert.deepEqual([...ids].sort(), [...glucoseIds].sort())
      await checkRefresh(client)
    } finally {
      await context.close()
    }
  })

  test("[SRS-OAUTH-522] a confidential client's refresh token sent without client authentication is still refused", async () => {
    const provider = s.app.vigil.provider
    const confidential = await provider.Client.find(consoleClient)
    assert.ok(confidential)
    const grant = new provider.Grant({ accountId: patient.id, clientId: consoleClient })
    grant.addOIDCScope('openid offline_access')
    const grantId = await grant.save()
    const token = await new provider.RefreshToken({
      accountId: patient.id,
      client: confidential,
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
    }).save()
    const res = await fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
    })
    assert.equal(res.status, 400)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.error, 'invalid_request')
    assert.ok(!('access_token' in body))
  })

  test('[SRS-FHIR-521] EHR launch: the clinician launches from POST /api/v2/smart/launch, fhirclient follows iss + launch, gets the patient and the Practitioner fhirUser, searches and refreshes', async () => {
    const app = await startApp('openid fhirUser launch patient/*.rs user/*.rs online_access')
    const consoleToken = await mintToken(s.app, s.issuer, {
      clientId: consoleClient,
      accountId: clinician.id,
      scope: 'openid patients:read',
    })
    const created = await fetch(`${s.issuer}/api/v2/smart/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, patient: patientId }),
    })
    assert.equal(created.status, 201)
    const { launch, iss } = (await created.json()) as { launch: string; iss: string }
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const launched = app.nextClient()
      await page.goto(
        `${app.base}/launch?iss=${encodeURIComponent(iss)}&launch=${encodeURIComponent(launch)}`,
      )
      await signIn(page, { email: clinician.email, totpSecret: clinician.totpSecret })
      const client = await launched
      assert.equal(client.patient.id, patientId)
      assert.equal(client.state.tokenResponse.need_patient_banner, false)
      assert.equal(client.user.fhirUser, `Practitioner/${clinician.id}`)
      const practitioner = await client.user.read()
      assertValidFhir(practitioner)
      assert.equal(practitioner.resourceType, 'Practitioner')
      const record = await client.patient.read()
      assertValidFhir(record)
      assert.equal(record.id, patientId)
      const bundles = await searchAllPages(client, `Observation?patient=${patientId}&_count=5`)
      assert.equal(bundles.flatMap((b) => b.entry ?? []).length, glucoseIds.length)
      // online_access: fhirclient refreshes as a public client, without client_id (its default).
      const before = client.state.tokenResponse.access_token as string
      await client.refresh()
      assert.notEqual(client.state.tokenResponse.access_token, before)
      assert.equal(client.state.tokenResponse.patient, patientId)
      const again = await client.patient.read()
      assertValidFhir(again)
    } finally {
      await context.close()
    }
  })
})
