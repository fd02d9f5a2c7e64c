// Password reset by mail and password change, end to end: a real SMTP server receives the mail,
// the link is followed over a real port, the tokens issued before the reset are tried with
// openid-client afterwards, and the reset form is filled in Chromium with JavaScript off.
// OWASP Forgot Password Cheat Sheet; RFC 9700 §4.14 (refresh tokens end with the credential).
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import type { Database } from '../../src/platform/db/index.ts'
import { openTestDatabase } from '../support/app.ts'
import { launchChromium } from '../support/browser.ts'
import { TEST_KEYRING, testConfig } from '../support/config.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
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
import { startTestSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp.ts'

const NEW_PASSWORD = 'quiet lantern orchard 41'
const SENT_TEXT = 'If an account exists for that address, we sent a link'

describe('password reset by mail and password change', () => {
  let smtp: TestSmtpServer
  let db: Database
  let s: OAuthTestServer
  let config: client.Configuration
  const appId = `app-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49152/callback'
  const keyring = createKeyring(TEST_KEYRING)

  before(async () => {
    smtp = await startTestSmtpServer()
    db = await openTestDatabase(testConfig())
    // The app's own account directory, with the per-IP request limit raised: every request of this
    // file comes from 127.0.0.1, and the limit itself is proven in the throttle's unit tests.
    const accounts = createAccountDirectory({
      db,
      keyring,
      passwordResetThrottle: {
        address: { maxFailures: 3, windowSeconds: 3600, lockSeconds: 3600 },
        ip: { maxFailures: 10_000, windowSeconds: 3600, lockSeconds: 3600 },
      },
    })
    s = await startOAuthTestServer({ env: { SMTP_URL: smtp.url }, deps: { db, accounts } })
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    config = await s.discover(appId, client.None())
  })
  after(async () => {
    await s?.close()
    await db?.close()
    await smtp?.close()
  })

  const newUser = () =>
    createTestUser(s.db, {
      email: `reset-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: null }],
    })
  const me = (token: string) =>
    fetch(`${s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${token}` } })
  const get = (path: string, jar = new CookieJar()) => followUntilOutside(s.issuer, `${s.issuer}${path}`, jar)
  const post = (path: string, fields: Record<string, string>, jar = new CookieJar()) =>
    followUntilOutside(s.issuer, `${s.issuer}${path}`, jar, postForm(fields))

  /** Signs in through the pages (authorization code + PKCE); tokens and the browser's cookie jar. */
  async function signIn(email: string, password = TEST_PASSWORD) {
    const { url, verifier, state } = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid offline_access account:read',
      prompt: 'consent',
    })
    const landed = await signInThroughForms(s.issuer, url.href, { email, password })
    if (!landed.url.startsWith(redirectUri)) return { ok: false as const, status: landed.status }
    const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    return { ok: true as const, tokens, jar: landed.jar }
  }

  /** Fills and posts the request form as a browser would: GET (cookie + token), then POST. */
  async function requestReset(email: string) {
    const jar = new CookieJar()
    const form = await get('/account/password-reset', jar)
    const started = performance.now()
    const res = await fetch(`${s.issuer}/account/password-reset`, {
      ...postForm({ email, csrf: csrfOf(form.page ?? '') }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    })
    const body = await res.text()
    return { res, body, ms: performance.now() - started }
  }

  function linkIn(mail: ReceivedMail): { url: string; path: string; token: string } {
    const m = new RegExp(`${s.issuer.replace(/[.]/g, '\\.')}(/account/password-reset/([A-Za-z0-9_-]+))`).exec(
      mail.text,
    )
    assert.ok(m?.[1] && m[2], `the mail carries a reset link:\n${mail.text}`)
    return { url: m[0], path: m[1], token: m[2] }
  }

  async function mailedLink(email: string) {
    const since = smtp.received.length
    const { res } = await requestReset(email)
    assert.equal(res.status, 200)
    return linkIn(await smtp.waitFor(email, { since }))
  }

  const setPassword = async (path: string, password: string, confirm = password) => {
    const form = await get(path)
    return post(path, { newPassword: password, confirmPassword: confirm, csrf: csrfOf(form.page ?? '') })
  }

  test('[SRS-AUTH-006][SRS-AUTH-007] reset: the mail arrives over SMTP, the link works once, and the sessions, refresh and access tokens from before die', async () => {
    const user = await newUser()
    const before = await signIn(user.email)
    assert.ok(before.ok)
    assert.ok(before.tokens.refresh_token)
    assert.equal((await me(before.tokens.access_token)).status, 200)
    assert.equal((await get('/account/password', before.jar)).status, 200, 'the browser session is signed in')

    const since = smtp.received.length
    const { res, body } = await requestReset(user.email.toUpperCase())
    assert.equal(res.status, 200)
    assert.ok(body.includes(SENT_TEXT))
    const mail = await smtp.waitFor(user.email, { since })
    assert.match(mail.raw, /^Subject: Reset your Vigil password/m)
    assert.match(mail.text, /within 30 minutes/)
    const link = linkIn(mail)
    const { rows } = await s.db.query<{ token_hash: string }>(
      'SELECT token_hash FROM password_reset_tokens WHERE user_id = $1',
      [user.id],
    )
    assert.deepEqual(
      rows.map((r) => r.token_hash),
      [createHash('sha256').update(link.token).digest('hex')],
      'only the hash is stored',
    )

    const page = await get(link.path)
    assert.equal(page.status, 200)
    assert.match(page.page ?? '', /Choose a new password/)

    // A refused password is explained, never echoed, and leaves the link usable; so does a mismatch.
    const weak = await setPassword(link.path, 'password123')
    assert.equal(weak.status, 422)
    assert.match(weak.page ?? '', /too common/)
    assert.ok(!weak.page?.includes('password123'), 'the refused password is not echoed')
    const differ = await setPassword(link.path, NEW_PASSWORD, `${NEW_PASSWORD}x`)
    assert.equal(differ.status, 422)
    assert.match(differ.page ?? '', /not the same/)

    const done = await setPassword(link.path, NEW_PASSWORD)
    assert.equal(done.status, 200)
    assert.match(done.page ?? '', /Your password is changed/)

    // Single use: the page and the form refuse the link from now on.
    assert.equal((await get(link.path)).status, 410)
    const form = await get('/account/password-reset')
    const replay = await post(link.path, {
      newPassword: 'another fine passphrase',
      confirmPassword: 'another fine passphrase',
      csrf: csrfOf(form.page ?? ''),
    })
    assert.equal(replay.status, 410)
    assert.match(replay.page ?? '', /cannot be used/)

    // Everything issued before the reset is gone.
    await assert.rejects(
      client.refreshTokenGrant(config, before.tokens.refresh_token),
      (err) => oauthError(err) === 'invalid_grant',
    )
    const api = await me(before.tokens.access_token)
    assert.equal(api.status, 401)
    assert.match(String(api.headers.get('www-authenticate')), /invalid_token/)
    assert.equal(
      (await get('/account/password', before.jar)).status,
      403,
      'the browser session is signed out',
    )
    const left = await s.db.query("SELECT model FROM oidc_payloads WHERE payload->>'accountId' = $1", [
      user.id,
    ])
    assert.deepEqual(left.rows, [])

    // The old password no longer signs in; the new one does.
    const old = await signIn(user.email, TEST_PASSWORD)
    assert.equal(old.ok, false)
    const fresh = await signIn(user.email, NEW_PASSWORD)
    assert.ok(fresh.ok)
    assert.equal((await me(fresh.tokens.access_token)).status, 200)

    // The token reached no log line: the link's requests are logged by their route pattern.
    assert.ok(!s.logs.text.includes(link.token), 'the reset token is not in the logs')
    const linkLines = s.logs
      .entries()
      .filter((e) => (e.req as { route?: string } | undefined)?.route === '/account/password-reset/:token')
    assert.ok(linkLines.length >= 4)
    for (const line of linkLines)
      assert.equal((line.req as { path?: string }).path, '/account/password-reset/:token')
  })

  test('[SRS-OAUTH-008] reset request: an unknown address gets the byte-identical answer, as fast while the relay stalls, and no mail', async () => {
    const user = await newUser()
    const unknownEmail = `nobody-${randomUUID()}@demo.test`
    smtp.delayMs = 2_000 // a slow relay: the known address must not wait on it
    try {
      const since = smtp.received.length
      const unknown = await requestReset(unknownEmail)
      const known = await requestReset(user.email)
      const comparable = (r: Awaited<ReturnType<typeof requestReset>>) => ({
        status: r.res.status,
        body: r.body,
        headers: [...r.res.headers].filter(
          ([name]) => !['date', 'x-request-id', 'keep-alive', 'connection'].includes(name),
        ),
      })
      assert.deepEqual(comparable(known), comparable(unknown))
      assert.equal(known.res.headers.get('set-cookie'), null)
      assert.ok(known.ms < 1_000, `the answer did not wait for SMTP (${Math.round(known.ms)} ms)`)
      assert.ok(unknown.ms < 1_000, `(${Math.round(unknown.ms)} ms)`)

      await smtp.waitFor(user.email, { since }) // the known address's mail, sent after the answer
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.deepEqual(
        smtp.received.slice(since).map((m) => m.to),
        [[user.email]],
        'one mail, to the known address only',
      )
    } finally {
      smtp.delayMs = 0
    }
  })

  test('[SRS-OAUTH-008] the account pages deny framing, allow no script, label every field and carry the password-manager autocomplete tokens', async () => {
    const user = await newUser()
    const link = await mailedLink(user.email)
    const session = await signIn(user.email)
    assert.ok(session.ok)
    const loginPage =
      (
        await followUntilOutside(
          s.issuer,
          client.buildAuthorizationUrl(config, {
            redirect_uri: redirectUri,
            scope: 'openid',
            code_challenge: 'a'.repeat(43),
            code_challenge_method: 'S256',
            state: 'x',
          }).href,
          new CookieJar(),
        )
      ).page ?? ''

    const pages: [string, string, Record<string, string>][] = [
      ['/account/password-reset', (await get('/account/password-reset')).page ?? '', { email: 'username' }],
      [
        link.path,
        (await get(link.path)).page ?? '',
        { username: 'username', 'new-password': 'new-password', 'confirm-password': 'new-password' },
      ],
      [
        '/account/password',
        (await get('/account/password', session.jar)).page ?? '',
        {
          username: 'username',
          'current-password': 'current-password',
          'new-password': 'new-password',
          'confirm-password': 'new-password',
        },
      ],
      ['login', loginPage, { email: 'username', password: 'current-password' }],
    ]
    assert.match(loginPage, /href="\/account\/password-reset"/, 'the login page links to the reset form')
    for (const [name, html, expected] of pages) {
      assert.doesNotMatch(html, /<script/i, `${name}: no script`)
      assert.match(html, /<meta name="referrer" content="no-referrer">/, `${name}: referrer meta`)
      const inputs = [...html.matchAll(/<input ([^>]*)>/g)].map((m) => m[1] ?? '')
      const attr = (tag: string, a: string) => new RegExp(`\\b${a}="([^"]*)"`).exec(tag)?.[1]
      const visible = inputs.filter((i) => attr(i, 'type') !== 'hidden')
      const found = Object.fromEntries(visible.map((i) => [attr(i, 'id'), attr(i, 'autocomplete')]))
      assert.deepEqual(found, expected, `${name}: ids and autocomplete tokens`)
      for (const input of visible) {
        if (/\bhidden\b/.test(input)) continue // the username hint for password managers is not shown
        assert.match(
          html,
          new RegExp(`<label for="${attr(input, 'id')}">`),
          `${name}: #${attr(input, 'id')} has a label`,
        )
      }
    }

    for (const path of ['/account/password-reset', link.path]) {
      const res = await fetch(`${s.issuer}${path}`)
      assert.equal(res.headers.get('x-frame-options'), 'DENY')
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
      assert.equal(res.headers.get('cache-control'), 'no-store')
      const csp = res.headers.get('content-security-policy') ?? ''
      for (const directive of [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
      ])
        assert.ok(csp.includes(directive), `${path}: ${directive}`)
      assert.doesNotMatch(csp, /script-src/)
    }
  })

  test("[SRS-OAUTH-008] a form posted without its CSRF token, or with another form's, is refused and changes nothing", async () => {
    const user = await newUser()
    // The request form without the cookie its token is bound to: refused, no mail.
    const since = smtp.received.length
    const form = await get('/account/password-reset')
    const noCookie = await post('/account/password-reset', {
      email: user.email,
      csrf: csrfOf(form.page ?? ''),
    })
    assert.equal(noCookie.status, 403)
    assert.match(noCookie.page ?? '', /form expired/)

    const link = await mailedLink(user.email)
    assert.equal(smtp.received.slice(since).length, 1, 'only the proper request sent a mail')
    const forged = await post(link.path, {
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
      csrf: csrfOf(form.page ?? ''),
    })
    assert.equal(forged.status, 403)
    assert.equal((await get(link.path)).status, 200, 'the link is still usable')

    const session = await signIn(user.email)
    assert.ok(session.ok)
    const change = await post(
      '/account/password',
      {
        currentPassword: TEST_PASSWORD,
        newPassword: NEW_PASSWORD,
        confirmPassword: NEW_PASSWORD,
        csrf: csrfOf(form.page ?? ''),
      },
      session.jar,
    )
    assert.equal(change.status, 403)
    assert.equal((await signIn(user.email)).ok, true, 'the password is unchanged')
  })

  test('[SRS-AUTH-006] an expired link (aged in the database) is refused and sets nothing', async () => {
    const user = await newUser()
    const link = await mailedLink(user.email)
    const form = await get(link.path)
    await s.db.query(
      "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [user.id],
    )
    assert.equal((await get(link.path)).status, 410)
    const late = await post(link.path, {
      newPassword: NEW_PASSWORD,
      confirmPassword: NEW_PASSWORD,
      csrf: csrfOf(form.page ?? ''),
    })
    assert.equal(late.status, 410)
    assert.equal((await signIn(user.email, NEW_PASSWORD)).ok, false)
    assert.equal((await signIn(user.email, TEST_PASSWORD)).ok, true, 'the old password still works')
  })

  test('[SRS-AUTH-008] reset requests are limited per address: the fourth within the hour gets the same page and no mail', async () => {
    const user = await newUser()
    const since = smtp.received.length
    const answers = []
    for (let i = 0; i < 3; i++) {
      const mails = smtp.received.length
      answers.push(await requestReset(user.email))
      await smtp.waitFor(user.email, { since: mails })
    }
    answers.push(await requestReset(user.email))
    assert.equal(
      new Set(answers.map((a) => `${a.res.status} ${a.body}`)).size,
      1,
      'the same answer each time',
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(smtp.received.slice(since).filter((m) => m.to.includes(user.email)).length, 3)
  })

  test('[SRS-AUTH-008] password change: signed in, with the current password; this browser stays signed in, every other session and token ends', async () => {
    const user = await newUser()
    const here = await signIn(user.email)
    const elsewhere = await signIn(user.email)
    assert.ok(here.ok && elsewhere.ok)

    const anonymous = await get('/account/password')
    assert.equal(anonymous.status, 403)
    assert.match(anonymous.page ?? '', /not signed in/)

    const form = await get('/account/password', here.jar)
    assert.equal(form.status, 200)
    const csrf = csrfOf(form.page ?? '')
    const wrong = await post(
      '/account/password',
      {
        currentPassword: 'not my password at all',
        newPassword: NEW_PASSWORD,
        confirmPassword: NEW_PASSWORD,
        csrf,
      },
      here.jar,
    )
    assert.equal(wrong.status, 403)
    assert.match(wrong.page ?? '', /current password is not right/)
    const weak = await post(
      '/account/password',
      { currentPassword: TEST_PASSWORD, newPassword: 'password123', confirmPassword: 'password123', csrf },
      here.jar,
    )
    assert.equal(weak.status, 422)
    assert.ok(!weak.page?.includes('password123'))

    const changed = await post(
      '/account/password',
      { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, csrf },
      here.jar,
    )
    assert.equal(changed.status, 200)
    assert.match(changed.page ?? '', /Your password is changed/)

    assert.equal((await get('/account/password', here.jar)).status, 200, 'this browser stays signed in')
    assert.equal(
      (await get('/account/password', elsewhere.jar)).status,
      403,
      'the other browser is signed out',
    )
    for (const t of [here.tokens, elsewhere.tokens]) {
      await assert.rejects(
        client.refreshTokenGrant(config, t.refresh_token ?? ''),
        (err) => oauthError(err) === 'invalid_grant',
      )
      assert.equal((await me(t.access_token)).status, 401)
    }
    assert.equal((await signIn(user.email, TEST_PASSWORD)).ok, false)
    assert.equal((await signIn(user.email, NEW_PASSWORD)).ok, true)
  })

  test(
    "[SRS-OAUTH-008] in Chromium with JavaScript off, the reset form mails a link and the link's form sets the new password",
    { timeout: 120_000 },
    async () => {
      const user = await newUser()
      const browser = await launchChromium()
      try {
        const context = await browser.newContext({ javaScriptEnabled: false })
        const problems: string[] = []
        // Chromium asks for /favicon.ico on its own (we serve none): the only 404 allowed.
        const notFavicon = (url: string) => new URL(url).pathname !== '/favicon.ico'
        context.on(
          'console',
          (m) => notFavicon(m.location().url) && problems.push(`${m.location().url}: ${m.text()}`),
        )
        context.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`))
        context.on(
          'response',
          (r) => r.status() >= 400 && notFavicon(r.url()) && problems.push(`${r.status()}: ${r.url()}`),
        )
        const page = await context.newPage()
        const since = smtp.received.length
        await page.goto(`${s.issuer}/account/password-reset`)
        const email = page.getByLabel('Email')
        assert.equal(await email.getAttribute('autocomplete'), 'username')
        await email.fill(user.email)
        await page.getByRole('button', { name: 'Send the link' }).click()
        await page.getByRole('heading', { name: 'Check your email' }).waitFor()
        assert.ok((await page.locator('main').innerText()).includes(SENT_TEXT))

        const link = linkIn(await smtp.waitFor(user.email, { since }))
        await page.goto(link.url)
        const first = page.getByLabel('New password', { exact: true })
        const second = page.getByLabel('New password again')
        assert.equal(await first.getAttribute('autocomplete'), 'new-password')
        assert.equal(await second.getAttribute('autocomplete'), 'new-password')
        await first.fill(NEW_PASSWORD)
        await second.fill(NEW_PASSWORD)
        await page.getByRole('button', { name: 'Set the new password' }).click()
        await page.getByRole('heading', { name: 'Your password is changed' }).waitFor()
        assert.deepEqual(
          problems,
          [],
          'no console message (a CSP violation shows up here) and no failed request',
        )
        await context.close()
      } finally {
        await browser.close()
      }
      assert.equal((await signIn(user.email, NEW_PASSWORD)).ok, true)
    },
  )
})
