// Issue 11 finding 7: oidc-provider's responses (protocol endpoints, discovery, its error pages)
// lacked the CSP and, under TLS, the HSTS that Fastify routes send, and a 431 (over-long request
// line or headers) was bare JSON with no security headers at all. One header set now goes on every
// response whoever writes it (platform/http/security-headers.ts, ADR-0013). This table sends each
// kind of request as raw bytes, over plain HTTP and over TLS, and checks the full set on each answer.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { after, before, describe, test } from 'node:test'
import { tlsServerOptions } from '../../src/platform/http/tls.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { testConfig } from '../support/config.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'
import { removeDir, tempDir } from '../integration/server-process.ts'

interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** Sends one request as bytes (so malformed and over-long ones can be sent) and parses the answer. */
function rawRequest(port: number, secure: boolean, bytes: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket: net.Socket = secure
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000)
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(bytes))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)))
    socket.on('close', () => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return reject(new Error(`no response head: ${JSON.stringify(text.slice(0, 200))}`))
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]),
        headers,
        body: text.slice(end + 4),
      })
    })
  })
}

const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`
const post = (target: string, contentType: string, body: string) =>
  `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

/** [label, request bytes, expected status, who answers] */
const CASES: ReadonlyArray<readonly [string, () => string, number, string]> = [
  ['a Fastify route', () => get('/health/live'), 200, 'fastify'],
  ['an API route without a token', () => get('/api/v2/me'), 401, 'fastify'],
  ['an unknown path', () => get('/no/such/path'), 404, 'fastify'],
  ['malformed JSON', () => post('/test/echo', 'application/json', '{"name":'), 400, 'fastify'],
  [
    'a body over the limit',
    () => post('/test/echo', 'application/json', JSON.stringify({ name: 'x'.repeat(1_100_000), count: 1 })),
    413,
    'fastify',
  ],
  ['OpenID discovery', () => get('/.well-known/openid-configuration'), 200, 'oidc-provider'],
  ['RFC 8414 metadata', () => get('/.well-known/oauth-authorization-server'), 200, 'oidc-provider'],
  ['the JWKS', () => get('/oauth/jwks'), 200, 'oidc-provider'],
  [
    'a token request error',
    () => post('/oauth/token', 'application/x-www-form-urlencoded', 'grant_type=nonsense'),
    400,
    'oidc-provider',
  ],
  [
    'an authorization error page',
    () => get('/oauth/authorize?client_id=no-such-client&response_type=code'),
    400,
    'oidc-provider',
  ],
  ['the device code page', () => get('/oauth/device'), 200, 'oidc-provider'],
  ['an over-long URL', () => get(`/health/live?${'a'.repeat(20_000)}`), 431, 'node'],
  ['over-long headers', () => get('/health/live', `X-Filler: ${'b'.repeat(20_000)}\r\n`), 431, 'node'],
  ['a malformed request line', () => 'NOT A REQUEST\r\n\r\n', 400, 'node'],
]

function assertHeaderSet(res: RawResponse, secure: boolean, label: string): void {
  const h = res.headers
  assert.equal(h['x-content-type-options'], 'nosniff', label)
  assert.equal(h['x-frame-options'], 'DENY', label)
  assert.equal(h['referrer-policy'], 'no-referrer', label)
  assert.equal(h['cross-origin-opener-policy'], 'same-origin', label)
  assert.equal(h['cross-origin-resource-policy'], 'same-origin', label)
  const csp = h['content-security-policy'] ?? ''
  assert.match(csp, /default-src 'none'/, `${label}: CSP ${csp}`)
  assert.match(csp, /frame-ancestors 'none'/, `${label}: CSP ${csp}`)
  assert.match(csp, /base-uri 'none'/, `${label}: CSP ${csp}`)
  assert.ok(h['cache-control'], `${label}: Cache-Control`)
  assert.match(h['x-request-id'] ?? '', /^[A-Za-z0-9._:-]{8,128}$/, `${label}: X-Request-Id`)
  if (secure)
    assert.equal(h['strict-transport-security'], 'max-age=63072000; includeSubDomains', `${label}: HSTS`)
  else assert.equal(h['strict-transport-security'], undefined, `${label}: no HSTS over plain HTTP`)
}

for (const secure of [false, true]) {
  describe(`the same security headers on every response (${secure ? 'TLS' : 'plain HTTP'})`, () => {
    let t: TestApp
    let dir = ''
    let port = 0
    before(async () => {
      let env: Record<string, string> = { RATE_LIMIT_PER_MINUTE: '0' }
      let https: ReturnType<typeof tlsServerOptions> | undefined
      if (secure) {
        dir = tempDir('headers-tls')
        const certFile = path.join(dir, 'cert.pem')
        const keyFile = path.join(dir, 'key.pem')
        execFileSync(
          '/usr/bin/openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:P-256',
            '-nodes',
            '-sha256',
            '-days',
            '2',
            '-subj',
            '/CN=127.0.0.1',
            '-keyout',
            keyFile,
            '-out',
            certFile,
          ],
          { stdio: 'pipe', timeout: 30_000 },
        )
        env = { ...env, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }
        const config = testConfig(env)
        assert.ok(config.tls)
        https = tlsServerOptions(config.tls)
        assert.ok(readFileSync(certFile).length > 0)
      }
      t = await createTestApp({ env, routes: [fixtureRoutes], deps: https ? { https } : {} })
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      port = (t.app.server.address() as net.AddressInfo).port
    })
    after(async () => {
      await t.close()
      if (dir) removeDir(dir)
    })

    for (const [label, bytes, status, who] of CASES) {
      test(`[SRS-HTTP-150] ${label} (${who}, ${status}) carries the full header set${secure ? ', HSTS included' : ''}`, async () => {
        const res = await rawRequest(port, secure, bytes())
        assert.equal(res.status, status, `${label}: ${res.body.slice(0, 200)}`)
        assertHeaderSet(res, secure, label)
        if (who === 'node') {
          assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/)
          assert.equal(JSON.parse(res.body).status, status)
        }
      })
    }

    test('[SRS-HTTP-150] pages keep their own, stricter CSP; oidc-provider can add the hash of an inline script to script-src', async () => {
      const device = await rawRequest(port, secure, get('/oauth/device'))
      assert.match(device.headers['content-security-policy'] ?? '', /form-action 'self'/)
      const discovery = await rawRequest(port, secure, get('/.well-known/openid-configuration'))
      assert.match(discovery.headers['content-security-policy'] ?? '', /script-src 'none'/)
      const api = await rawRequest(port, secure, get('/api/v2/me'))
      assert.match(api.headers['content-security-policy'] ?? '', /form-action 'none'/)
    })
  })
}
