// The sign-in pages in a real browser with JavaScript off: labels, password-manager
// autocomplete tokens, framing denied, CSRF enforced, and a clinician's full authorization code
// + PKCE flow with TOTP ending in tokens that work on the API.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import type { Browser } from 'playwright-core'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { totpCode } from '../../src/modules/users/index.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { launchChromium } from '../support/browser.ts'
import { TEST_KEYRING } from '../support/config.ts'
import {
  CookieJar,
  createTestUser,
  followUntilOutside,
  nativeAppMetadata,
  postForm,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { freePort } from '../support/ports.ts'

describe('sign-in pages in Chromium', () => {
  let s: OAuthTestServer
  let browser: Browser
  let callbackServer: Server
  let callbackPort: number
  const callbacks: string[] = []
  const appId = `app-${randomUUID()}`
  let clinician: Awaited<ReturnType<typeof createTestUser>>
  let config: client.Configuration

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    const org = await createAccountDirectory({
      db: s.db,
      keyring: createKeyring(TEST_KEYRING),
    }).users.createOrganisation(`Clinic ${randomUUID()}`)
    clinician = await createTestUser(s.db, {
      email: `clinician-${randomUUID()}@demo.test`,
      roles: [{ role: 'clinician', organisationId: org.id }],
      totp: true,
    })
    config = await s.discover(appId, client.None())
    callbackPort = await freePort()
    callbackServer = createServer((req, res) => {
      callbacks.push(`http://127.0.0.1:${callbackPort}${req.url}`)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in')
    })
    await new Promise<void>((resolve) => callbackServer.listen(callbackPort, '127.0.0.1', resolve))
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await new Promise<void>((resolve) => callbackServer?.close(() => resolve()))
    await s?.close()
  })

  async function authorizationUrl() {
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
      scope: 'openid account:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st-1',
    })
    return { url, verifier }
  }

  test('[SRS-OAUTH-002][SRS-OAUTH-008] a clinician signs in with password and TOTP in Chromium without JavaScript; the tokens work on the API', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    try {
      const page = await context.newPage()
      const { url, verifier } = await authorizationUrl()
      const response = await page.goto(url.href)
      assert.equal(response?.status(), 200)
      const headers = response?.headers() ?? {}
      assert.equal(headers['x-frame-options'], 'DENY')
      assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/)

      const email = page.getByLabel('Email')
      const password = page.getByLabel('Password')
      assert.equal(await email.getAttribute('autocomplete'), 'username')
      assert.equal(await password.getAttribute('autocomplete'), 'current-password')
      await email.fill(clinician.email)
      await password.fill(TEST_PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()

      const code = page.getByLabel('Code from your authenticator app')
      assert.equal(await code.getAttribute('autocomplete'), 'one-time-code')
      await code.fill(totpCode(clinician.totpSecret ?? '', new Date()))
      await page.getByRole('button', { name: 'Verify' }).click()
      await page.waitForURL(/\/callback\?/, { timeout: 30_000 })

      const landed = new URL(page.url())
      assert.equal(landed.searchParams.get('iss'), s.issuer)
      const tokens = await client.authorizationCodeGrant(config, landed, {
        pkceCodeVerifier: verifier,
        expectedState: 'st-1',
      })
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp'])
      const me = await fetch(`${s.issuer}/api/v2/me`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      assert.equal(me.status, 200)
    } finally {
      await context.close()
    }
  })

  test("[SRS-OAUTH-008] a login form posted without its CSRF token, or with another interaction's, is refused", async () => {
    const jar = new CookieJar()
    const { url } = await authorizationUrl()
    const first = await followUntilOutside(s.issuer, url.href, jar)
    const action = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer).toString()
    const forged = await followUntilOutside(
      s.issuer,
      action,
      jar,
      postForm({ email: clinician.email, password: TEST_PASSWORD, csrf: 'x'.repeat(43) }),
    )
    assert.equal(forged.status, 403)
    assert.doesNotMatch(forged.page ?? '', /authenticator/, 'no second step is reached')
  })
})
