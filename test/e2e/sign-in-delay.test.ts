// Issue 11 finding 9: five wrong passwords from anywhere locked any account, renewably for ever,
// and twenty failures locked a whole client address. Now (ADR-0014) a stranger's failures only
// delay attempts that come without a device cookie; the owner is mailed a one-time unlock link
// (real SMTP server) that lets their browser in at once, and a browser that signed in before is
// never held back. Driven through the real sign-in pages.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import {
  CookieJar,
  createTestUser,
  csrfOf,
  followUntilOutside,
  nativeAppMetadata,
  postForm,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts'

describe('sign-in delays that slow a stranger and never lock the owner out', () => {
  let smtp: TestSmtpServer
  let s: OAuthTestServer
  let config: client.Configuration
  let org: { id: string }
  const appId = `app-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49152/callback'

  before(async () => {
    smtp = await startTestSmtpServer()
    // Behind a trusted proxy (the test client at 127.0.0.1): each browser below has its own
    // client address in X-Forwarded-For, so this file's failures never delay 127.0.0.1 itself for
    // other test files sharing a PostgreSQL database.
    s = await startOAuthTestServer({ env: { SMTP_URL: smtp.url, TRUST_PROXY: '127.0.0.1' } })
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    config = await s.discover(appId, client.None())
    org = await createAccountDirectory({
      db: s.db,
      keyring: createKeyring(TEST_KEYRING),
    }).users.createOrganisation(`Clinic ${randomUUID()}`)
  })
  after(async () => {
    await s?.close()
    await smtp?.close()
  })

  const newPatient = () =>
    createTestUser(s.db, {
      email: `patient-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org.id }],
    })

  const randomAddress = () => `198.51.100.${1 + Math.floor(Math.random() * 254)}`

  /** One sign-in through the pages in the browser `jar`, from client address `from`: where it lands, or the page it stopped on. */
  async function signIn(jar: CookieJar, email: string, password: string, from = randomAddress()) {
    const req = await pkceAuthorizationRequest(config, { redirectUri, scope: 'openid account:read' })
    const first = await followUntilOutside(s.issuer, req.url.href, jar)
    const action = new URL(/action="([^"]*\/login)"/.exec(first.page ?? '')?.[1] ?? '', s.issuer).toString()
    const form = postForm({ email, password, csrf: csrfOf(first.page ?? '') })
    const step = await followUntilOutside(s.issuer, action, jar, {
      ...form,
      headers: { ...(form.headers as Record<string, string>), 'x-forwarded-for': from },
    })
    return { ...step, signedIn: step.url.startsWith(redirectUri) }
  }

  /** A browser that keeps only its sign-in device cookie (its session ended, as sessions do). */
  function deviceOnly(jar: CookieJar): CookieJar {
    const cookie = jar
      .header()
      .split('; ')
      .find((c) => c.startsWith('vigil_login_device='))
    assert.ok(cookie, 'the browser holds a device cookie')
    const fresh = new CookieJar()
    fresh.store(new Response(null, { headers: { 'set-cookie': `${cookie}; Path=/` } }))
    return fresh
  }

  const strangerFails = async (email: string, times: number, from = randomAddress()) => {
    for (let i = 0; i < times; i++)
      assert.equal(
        (await signIn(new CookieJar(), email, `wrong password ${i} ${randomUUID()}`, from)).signedIn,
        false,
      )
  }

  test("[SRS-AUTH-151] after a stranger's five failures a fresh browser is delayed, the owner is mailed a one-time link, and the link lets their browser in at once", async () => {
    const owner = await newPatient()
    const since = smtp.received.length
    const stranger = `203.0.113.${1 + Math.floor(Math.random() * 254)}`
    await strangerFails(owner.email, 5, stranger)
    const counted = await s.db.query('SELECT failures FROM login_throttle WHERE key = $1', [`ip:${stranger}`])
    assert.ok(
      Number((counted.rows[0] as { failures?: number } | undefined)?.failures) >= 5,
      "the address counted is the client's, resolved through TRUST_PROXY",
    )
    const delayed = await signIn(new CookieJar(), owner.email, TEST_PASSWORD)
    assert.equal(delayed.signedIn, false, 'the right password from a fresh browser waits out the delay')
    assert.equal(delayed.status, 401)

    const mail = await smtp.waitFor(owner.email, { since })
    const m = new RegExp(`${s.issuer.replace(/[.]/g, '\\.')}(/account/unlock/([A-Za-z0-9_-]+))`).exec(
      mail.text,
    )
    assert.ok(m?.[1], `the mail carries an unlock link:\n${mail.text}`)
    await strangerFails(owner.email, 3) // the stranger keeps going: no second mail within 15 minutes
    assert.equal(
      smtp.received.slice(since).filter((r) => r.to.includes(owner.email)).length,
      1,
      'one notice, not one per failure',
    )

    const browser = new CookieJar()
    const page = await fetch(`${s.issuer}${m[1]}`)
    assert.equal(page.status, 200, 'opening the link spends nothing (mail scanners fetch links)')
    const html = await page.text()
    const unlocked = await fetch(`${s.issuer}${m[1]}`, {
      ...postForm({ csrf: csrfOf(html) }),
      redirect: 'manual',
    })
    assert.equal(unlocked.status, 200)
    browser.store(unlocked)
    assert.match(browser.header(), /vigil_login_device=/, 'the browser gets a device cookie')
    assert.equal(
      (await fetch(`${s.issuer}${m[1]}`, postForm({ csrf: csrfOf(html) }))).status,
      410,
      'the link works once',
    )

    await strangerFails(owner.email, 2)
    assert.equal(
      (await signIn(new CookieJar(), owner.email, TEST_PASSWORD)).signedIn,
      false,
      'strangers (and fresh browsers) are still delayed',
    )
    assert.equal(
      (await signIn(browser, owner.email, TEST_PASSWORD)).signedIn,
      true,
      "the owner's unlocked browser signs in at once",
    )
  })

  test('[SRS-AUTH-151] a browser that signed in before is never held back by a stranger; its cookie does nothing for another account', async () => {
    const owner = await newPatient()
    const other = await newPatient()
    const browser = new CookieJar()
    assert.equal((await signIn(browser, owner.email, TEST_PASSWORD)).signedIn, true)
    const returning = deviceOnly(browser)
    await strangerFails(owner.email, 8)
    await strangerFails(other.email, 5)
    assert.equal(
      (await signIn(new CookieJar(), owner.email, TEST_PASSWORD)).signedIn,
      false,
      'a fresh browser is delayed',
    )
    assert.equal(
      (await signIn(returning, owner.email, TEST_PASSWORD)).signedIn,
      true,
      "the owner's browser is not",
    )
    assert.equal(
      (await signIn(deviceOnly(returning), other.email, TEST_PASSWORD)).signedIn,
      false,
      'the cookie names one account only',
    )
  })

  test('[SRS-AUTH-151] the same page answers a delay on an unknown address and on a real account, and no mail reveals either', async () => {
    const owner = await newPatient()
    const unknown = `nobody-${randomUUID()}@demo.test`
    const since = smtp.received.length
    await strangerFails(owner.email, 5)
    await strangerFails(unknown, 5)
    const a = await signIn(new CookieJar(), owner.email, 'still wrong')
    const b = await signIn(new CookieJar(), unknown, 'still wrong')
    assert.equal(a.status, b.status)
    const strip = (p: string | undefined, email: string) =>
      (p ?? '')
        .replaceAll(email, 'EMAIL')
        .replace(/name="csrf" value="[^"]+"/, '')
        .replace(/\/interaction\/[A-Za-z0-9_-]+\//g, '/interaction/UID/')
    assert.equal(strip(a.page, owner.email), strip(b.page, unknown))
    await smtp.waitFor(owner.email, { since })
    assert.equal(smtp.received.slice(since).filter((r) => r.to.includes(unknown)).length, 0)
  })
})
