// Behind a trusted proxy (TRUST_PROXY), the forwarded headers tell the server who the caller is,
// never where the server is: every URL the authorization server writes — its metadata, its pages'
// form actions, its redirects to its own pages — has PUBLIC_URL's scheme and host, whatever the
// caller puts in Host, X-Forwarded-Host, X-Forwarded-Proto or Forwarded (ADR-0040). A proxy
// appends to these headers, so their leftmost values are the caller's own.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { nativeAppMetadata } from '../support/identity.ts'
import { authorizationUrl, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

interface Answer {
  readonly status: number
  readonly location: string | undefined
  readonly body: string
}

/** node:http, since fetch does not let a caller set Host. */
function get(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { accept: 'text/html, application/json', ...headers } }, (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }))
      })
      .on('error', reject)
  })
}

/** Every absolute http(s) URL in a JSON document. */
function urlsIn(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) into.push(value)
  else if (Array.isArray(value)) for (const v of value) urlsIn(v, into)
  else if (value && typeof value === 'object') for (const v of Object.values(value)) urlsIn(v, into)
  return into
}

describe('forwarded headers cannot move the authorization server', () => {
  let s: OAuthTestServer
  const appId = `forwarded-app-${randomUUID()}`

  before(async () => {
    s = await startOAuthTestServer({ env: { TRUST_PROXY: '127.0.0.1,::1' } })
    await s.clients.upsert({ clientId: appId, metadata: nativeAppMetadata(appId) })
  })
  after(() => s?.close())

  const forgeries: ReadonlyArray<Record<string, string>> = [
    { 'x-forwarded-host': 'evil.example' },
    { 'x-forwarded-host': 'evil.example, 127.0.0.1' },
    { 'x-forwarded-host': 'evil.example:8443', 'x-forwarded-proto': 'https' },
    { 'x-forwarded-proto': 'https' },
    { 'x-forwarded-proto': 'https, http' },
    { forwarded: 'host=evil.example;proto=https' },
    { host: 'evil.example' },
    { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-for': '203.0.113.7' },
  ]

  test("[SRS-OAUTH-534] behind a trusted proxy, no Host or forwarded header changes the scheme or host of the authorization server's metadata, forms or redirects", async () => {
    const own = (url: string, what: string) =>
      assert.equal(new URL(url, s.issuer).origin, s.issuer, `${what}: ${url}`)
    const authorize = authorizationUrl(s.issuer, appId)

    for (const headers of [{}, ...forgeries]) {
      const label = JSON.stringify(headers)
      for (const path of [
        '/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server',
        '/.well-known/smart-configuration',
      ]) {
        const meta = await get(`${s.issuer}${path}`, headers)
        assert.equal(meta.status, 200, `${label} ${path}`)
        const urls = urlsIn(JSON.parse(meta.body))
        assert.ok(urls.length >= 3, `${label} ${path} names its endpoints`)
        for (const url of urls) own(url, `${label} ${path}`)
      }
      const device = await get(`${s.issuer}/oauth/device`, headers)
      assert.equal(device.status, 200, label)
      const actions = [...device.body.matchAll(/action="([^"]+)"/g)].map((m) => m[1] ?? '')
      assert.equal(actions.length, 1, `${label}: the device page has its form`)
      for (const action of actions) own(action, `${label} device form`)
      const sent = await get(authorize.href, headers)
      assert.equal(sent.status, 303, `${label}: ${sent.body.slice(0, 200)}`)
      own(sent.location ?? '', `${label} the redirect to the sign-in`)
    }
  })
})
