// OpenID Connect RP-Initiated Logout in a real browser: an app signed in through Vigil sends the
// person to the end-session endpoint with its ID token, a registered post-logout redirect URI and
// a state (openid-client's buildEndSessionUrl). The person confirms on Vigil's page, the session and
// the app's grant end, and the browser returns to the app; nothing on the page is refused by the
// browser or loaded from elsewhere. Debian Chromium through playwright-core.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import type { Page } from 'playwright-core'
import { startBrowserAppWorld, type BrowserAppWorld } from '../support/browser-app.ts'
import { TEST_PASSWORD } from '../support/identity.ts'
import { pkceAuthorizationRequest } from '../support/oauth.ts'

describe('RP-initiated logout in Chromium', () => {
  let w: BrowserAppWorld
  let redirectUri = ''
  let afterLogout = ''
  const appId = `logout-app-${randomUUID()}`

  before(async () => {
    w = await startBrowserAppWorld(appId, (origin) => ({
      client_name: 'Logout app',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${origin}/callback`],
      post_logout_redirect_uris: [`${origin}/signed-out`],
      scope: 'openid account:read',
      first_party: true,
    }))
    redirectUri = `${w.app.origin}/callback`
    afterLogout = `${w.app.origin}/signed-out`
  })
  after(() => w?.close())

  /** A page that records what the browser refused (CSP) or failed to load, and every request it made. */
  async function openPage() {
    const context = await w.browser.newContext()
    const page = await context.newPage()
    const refused: string[] = []
    const requests: string[] = []
    page.on('console', (m) => {
      // A refusal by the CSP, or a load that failed (a page's icon, say, answered 404 and audited).
      if (/Content Security Policy|Refused to|Failed to load resource/.test(m.text())) refused.push(m.text())
    })
    page.on('request', (r) => requests.push(r.url()))
    return { context, page, refused, requests }
  }

  /** The app's sign-in: the person signs in on Vigil's page if asked, the app redeems its code. */
  async function appSignIn(page: Page, signIn = true) {
    const req = await pkceAuthorizationRequest(w.config, { redirectUri, scope: 'openid account:read' })
    await page.goto(req.url.href)
    if (signIn) {
      await page.getByLabel('Email').fill(w.patient.email)
      await page.getByLabel('Password').fill(TEST_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
    }
    await page.waitForURL((u) => u.href.startsWith(redirectUri), { timeout: 15_000 })
    w.app.arrivals.splice(0)
    return client.authorizationCodeGrant(w.config, new URL(page.url()), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
  }

  const me = (token: string) =>
    fetch(`${w.s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${token}` } })

  /** Waits for the browser to reach the app's post-logout redirect URI; what the app received. */
  async function backInTheApp(page: Page) {
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor({ timeout: 15_000 })
    assert.ok(page.url().startsWith(afterLogout), page.url())
    return new URL(page.url())
  }

  test('[SRS-OAUTH-542] an app signs the person out: Vigil asks on its own page, the session and the app’s grant end, and the browser returns to the app with its state', async () => {
    const { context, page, refused, requests } = await openPage()
    try {
      const tokens = await appSignIn(page)
      assert.equal((await me(tokens.access_token)).status, 200)
      const end = client.buildEndSessionUrl(w.config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: afterLogout,
        state: 'app-state-1',
      })
      await page.goto(end.href)
      await page.getByRole('heading', { name: 'Sign out?' }).waitFor()
      assert.match(await page.content(), /<strong>Logout app<\/strong> asks you to sign out/)
      await page.getByRole('button', { name: 'Sign out' }).click()
      const back = await backInTheApp(page)
      assert.equal(back.searchParams.get('state'), 'app-state-1', 'the app gets its state back')
      assert.deepEqual(refused, [], 'the browser refused nothing on the way')
      const origins = new Set(requests.map((u) => new URL(u).origin))
      assert.deepEqual(
        [...origins].sort(),
        [w.app.origin, w.s.issuer].sort(),
        'nothing loaded from elsewhere',
      )
      // The app's grant is revoked with the session: its access token stops working.
      assert.equal((await me(tokens.access_token)).status, 401)
      // The session is gone: the next sign-in asks for the password again.
      const req = await pkceAuthorizationRequest(w.config, { redirectUri, scope: 'openid account:read' })
      await page.goto(req.url.href)
      await page.getByLabel('Password').waitFor({ timeout: 15_000 })
      // Sent to sign out again with no session left, the browser goes straight back to the app.
      await page.goto(end.href)
      const again = await backInTheApp(page)
      assert.equal(again.searchParams.get('state'), 'app-state-1')
      assert.deepEqual(refused, [])
    } finally {
      await context.close()
    }
  })

  test('[SRS-OAUTH-542] “Stay signed in” keeps the session: the app is told, and signs in again without the password', async () => {
    const { context, page, refused } = await openPage()
    try {
      const tokens = await appSignIn(page)
      const end = client.buildEndSessionUrl(w.config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: afterLogout,
        state: 'app-state-2',
      })
      await page.goto(end.href)
      await page.getByRole('button', { name: 'Stay signed in' }).click()
      const back = await backInTheApp(page)
      assert.equal(back.searchParams.get('state'), 'app-state-2')
      assert.deepEqual(refused, [])
      // The browser's session stays: the app's next sign-in needs no password.
      const next = await appSignIn(page, false)
      assert.equal((await me(next.access_token)).status, 200)
    } finally {
      await context.close()
    }
  })

  test('[SRS-OAUTH-542] a post-logout redirect URI the app did not register is refused, and the browser goes nowhere', async () => {
    const { context, page } = await openPage()
    try {
      const tokens = await appSignIn(page)
      const end = client.buildEndSessionUrl(w.config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${w.stranger.origin}/signed-out`,
      })
      const res = await page.goto(end.href)
      assert.equal(res?.status(), 400)
      assert.ok(page.url().startsWith(w.s.issuer), page.url())
      assert.doesNotMatch(res?.headers()['content-security-policy'] ?? '', new RegExp(w.stranger.origin))
      await page.waitForTimeout(300)
      assert.deepEqual(w.stranger.arrivals, [])
      // The session was not ended by the refused request.
      const next = await appSignIn(page, false)
      assert.equal((await me(next.access_token)).status, 200)
    } finally {
      await context.close()
    }
  })
})
