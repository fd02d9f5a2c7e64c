// Email verification end to end: a signed-in user (real token through the sign-in pages) asks for
// the link, the mail reaches a real SMTP server (smtp-server on a loopback port, SMTP_URL), and
// the link's page verifies the address once. The token in the link never reaches the log.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import { createAccountDirectory } from '../../src/modules/identity/account-directory.ts'
import { createKeyring } from '../../src/platform/crypto/keyring.ts'
import { TEST_KEYRING } from '../support/config.ts'
import { nativeAppMetadata, signInThroughForms, TEST_PASSWORD } from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'
import { startTestSmtpServer, type TestSmtpServer } from '../support/smtp.ts'

describe('email verification by mail', () => {
  let smtp: TestSmtpServer
  let s: OAuthTestServer
  let directory: ReturnType<typeof createAccountDirectory>
  const appId = `app-${randomUUID()}`
  const serviceId = `svc-${randomUUID()}`
  const serviceSecret = 'a-long-random-client-secret-0123456789abcdef'
  const redirectUri = 'http://127.0.0.1:49152/callback'

  async function userToken(email: string): Promise<string> {
    const config = await s.discover(appId, client.None())
    const { url, verifier, state } = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid account:read',
    })
    const landed = await signInThroughForms(s.issuer, url.href, { email, password: TEST_PASSWORD })
    assert.ok(landed.url.startsWith(redirectUri), `landed on ${landed.url} (${landed.status})`)
    return (
      await client.authorizationCodeGrant(config, new URL(landed.url), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
    ).access_token
  }

  const askForLink = (token: string | undefined) =>
    fetch(`${s.issuer}/api/v2/me/email-verification`, {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })

  before(async () => {
    smtp = await startTestSmtpServer()
    s = await startOAuthTestServer({ env: { SMTP_URL: smtp.url } })
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
    await s.clients.upsert({
      clientId: serviceId,
      secret: serviceSecret,
      metadata: {
        client_id: serviceId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'account:read',
      },
    })
    directory = createAccountDirectory({ db: s.db, keyring: createKeyring(TEST_KEYRING) })
  })
  after(async () => {
    await s.close()
    await smtp.close()
  })

  test('[SRS-AUTH-001] email verification: the mailed link verifies the address once; a second use is refused', async () => {
    // Self-registered: the address is not verified yet.
    const user = await directory.users.createUser({
      email: `new-${randomUUID()}@demo.test`,
      password: TEST_PASSWORD,
      roles: [{ role: 'patient', organisationId: null }],
    })
    assert.equal(user.emailVerifiedAt, null)
    const token = await userToken(user.email)

    const since = smtp.received.length
    const res = await askForLink(token)
    assert.equal(res.status, 204)
    const mail = await smtp.waitFor(user.email, { since })
    assert.deepEqual(mail.to, [user.email])
    assert.match(mail.raw, /^Subject: Confirm your Vigil email address\r$/m)
    const link = new RegExp(
      `${s.issuer.replaceAll('.', '\\.')}/account/verify-email/([A-Za-z0-9_-]{43})`,
    ).exec(mail.text)
    assert.ok(link?.[1], `a link in the mail: ${mail.text}`)
    const linkToken = link[1]
    assert.equal(
      (await directory.findAccount(user.id))?.emailVerified,
      false,
      'asking for the link verifies nothing',
    )

    // Opening the link (as a mail scanner would, twice) uses nothing: it shows a confirm button.
    for (let i = 0; i < 2; i++) {
      const opened = await fetch(link[0])
      assert.equal(opened.status, 200)
      assert.match(String(opened.headers.get('content-type')), /^text\/html/)
      assert.match(String(opened.headers.get('content-security-policy')), /default-src 'none'/)
      assert.equal(opened.headers.get('cache-control'), 'no-store')
      assert.match(await opened.text(), /<button type="submit">Confirm my email address<\/button>/)
    }
    assert.equal(
      (await directory.findAccount(user.id))?.emailVerified,
      false,
      'opening the link verifies nothing',
    )

    const first = await fetch(link[0], { method: 'POST' })
    assert.equal(first.status, 200)
    assert.match(await first.text(), /<h1>Email verified<\/h1>/)
    assert.equal((await directory.findAccount(user.id))?.emailVerified, true)
    assert.ok((await directory.users.findById(user.id))?.emailVerifiedAt instanceof Date)

    assert.equal((await fetch(link[0], { method: 'POST' })).status, 410, 'the link works once')
    const second = await fetch(link[0])
    assert.equal(second.status, 410)
    const secondPage = await second.text()
    assert.match(secondPage, /not valid or has expired/)
    assert.doesNotMatch(secondPage, /Email verified/)
    // An unknown token gets the very same page.
    const unknown = await fetch(`${s.issuer}/account/verify-email/${'A'.repeat(43)}`)
    assert.equal(unknown.status, 410)
    assert.equal(await unknown.text(), secondPage)

    // Verified already: the request is answered, and no mail is sent.
    const count = smtp.received.length
    assert.equal((await askForLink(token)).status, 204)
    assert.equal(smtp.received.length, count)

    // The token is in the URL path only: logs record the route pattern.
    assert.ok(!s.logs.text.includes(linkToken), 'the link token is not logged')
    const pageLines = s.logs
      .entries()
      .filter((e) => (e.req as { route?: string } | undefined)?.route === '/account/verify-email/:token')
    assert.ok(pageLines.length >= 2)
    for (const line of pageLines)
      assert.equal((line.req as { path?: string }).path, '/account/verify-email/:token')
  })

  test('[SRS-AUTH-001] email verification: only a user asks for a link; a client credentials token gets 403 and no token 401', async () => {
    const since = smtp.received.length
    const service = await client.clientCredentialsGrant(
      await s.discover(serviceId, client.ClientSecretBasic(serviceSecret)),
      { scope: 'account:read' },
    )
    const refused = await askForLink(service.access_token)
    assert.equal(refused.status, 403)
    assert.match(String(refused.headers.get('content-type')), /^application\/problem\+json/)
    const anonymous = await askForLink(undefined)
    assert.equal(anonymous.status, 401)
    assert.match(String(anonymous.headers.get('www-authenticate')), /^Bearer/)
    assert.equal(smtp.received.length, since, 'no mail was sent')
  })
})
