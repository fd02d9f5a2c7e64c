// OAuth 2.0 Form Post Response Mode in a real browser: the discovery document advertises
// `form_post`, and a web app on its default settings may ask for it (a server-side OpenID Connect
// middleware often does). oidc-provider answers with a page whose script posts the code to the
// app's redirect URI; the browser must be allowed to send it there, and nowhere else. The app's
// side is a real listener, and openid-client takes the posted response as the app's request.
// Debian Chromium through playwright-core.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import type { Page } from 'playwright-core'
import { startBrowserAppWorld, type Arrival, type BrowserAppWorld } from '../support/browser-app.ts'
import { TEST_PASSWORD } from '../support/identity.ts'
import { pkceAuthorizationRequest } from '../support/oauth.ts'

describe('response_mode=form_post in Chromium', () => {
  let w: BrowserAppWorld
  let redirectUri = ''
  const appId = `form-post-app-${randomUUID()}`

  before(async () => {
    w = await startBrowserAppWorld(appId, (origin) => ({
      client_name: 'Form post app',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${origin}/callback`],
      scope: 'openid account:read',
    }))
    redirectUri = `${w.app.origin}/callback`
  })
  after(() => w?.close())

  /** The app's authorization request on its settings: the code posted back, the consent asked each time. */
  const formPostRequest = () =>
    pkceAuthorizationRequest(w.config, {
      redirectUri,
      scope: 'openid account:read',
      response_mode: 'form_post',
      prompt: 'consent',
    })

  /** Signs the patient in on the pages and answers the consent; the page ends wherever the browser goes. */
  async function signInAndDecide(page: Page, url: string, decision: 'allow' | 'deny') {
    await page.goto(url)
    await page.getByLabel('Email').fill(w.patient.email)
    await page.getByLabel('Password').fill(TEST_PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: decision === 'allow' ? 'Allow' : 'Deny' }).click()
  }

  /** Waits for the app's redirect URI to receive its first request. */
  async function arrivalAt(page: Page): Promise<Arrival> {
    await page.waitForURL((u) => u.href.startsWith(redirectUri), { timeout: 15_000 })
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor()
    const [first] = w.app.arrivals.splice(0)
    assert.ok(first, 'the app received the response')
    return first
  }

  test('[SRS-OAUTH-541] the code is posted to the registered redirect URI, and openid-client redeems it from the posted request', async () => {
    const req = await formPostRequest()
    const page = await w.browser.newPage()
    const refused: string[] = []
    page.on('console', (m) => {
      if (/Content Security Policy/.test(m.text())) refused.push(m.text())
    })
    try {
      await signInAndDecide(page, req.url.href, 'allow')
      const arrival = await arrivalAt(page)
      assert.equal(arrival.method, 'POST', 'the response came as a form post')
      assert.equal(arrival.url, '/callback')
      const posted = new URLSearchParams(arrival.body)
      assert.ok(posted.get('code'), 'with a code')
      assert.equal(posted.get('state'), req.state)
      assert.equal(posted.get('iss'), w.s.issuer, 'RFC 9207: iss in the authorization response')
      assert.deepEqual(refused, [], 'the browser refused nothing on the way')
      // The app hands the request it received to openid-client, as a server-side app does.
      const tokens = await client.authorizationCodeGrant(
        w.config,
        new Request(redirectUri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: arrival.body,
        }),
        { pkceCodeVerifier: req.verifier, expectedState: req.state },
      )
      const me = await fetch(`${w.s.issuer}/api/v2/me`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      assert.equal(me.status, 200)
      assert.equal(((await me.json()) as { id: string }).id, w.patient.id)
    } finally {
      await page.close()
    }
  })

  test('[SRS-OAUTH-541] a refusal is posted to the app too: Deny at consent reaches it as access_denied', async () => {
    const req = await formPostRequest()
    const page = await w.browser.newPage()
    try {
      await signInAndDecide(page, req.url.href, 'deny')
      const arrival = await arrivalAt(page)
      assert.equal(arrival.method, 'POST')
      const posted = new URLSearchParams(arrival.body)
      assert.equal(posted.get('error'), 'access_denied')
      assert.equal(posted.get('state'), req.state)
      assert.equal(posted.get('code'), null)
    } finally {
      await page.close()
    }
  })

  test('[SRS-OAUTH-541] a redirect URI the app did not register gets nothing: the person sees the error page, whose forms may post nowhere else', async () => {
    const elsewhere = `${w.stranger.origin}/callback`
    const req = await pkceAuthorizationRequest(w.config, {
      redirectUri: elsewhere,
      scope: 'openid account:read',
      response_mode: 'form_post',
    })
    const page = await w.browser.newPage()
    try {
      const res = await page.goto(req.url.href)
      assert.equal(res?.status(), 400)
      await page.getByRole('heading').first().waitFor()
      assert.ok(page.url().startsWith(w.s.issuer), `still on Vigil: ${page.url()}`)
      const csp = res?.headers()['content-security-policy'] ?? ''
      assert.doesNotMatch(csp, new RegExp(w.stranger.origin.replace(/[.:/]/g, '\\$&')), csp)
      // Give a stray post the time to arrive: none does.
      await page.waitForTimeout(300)
      assert.deepEqual(w.stranger.arrivals, [])
    } finally {
      await page.close()
    }
  })
})
