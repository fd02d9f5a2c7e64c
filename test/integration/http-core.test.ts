import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'

const PROBLEM = 'application/problem+json; charset=utf-8'

describe('HTTP core: problem+json, validation, limits, request ids, headers, CORS', () => {
  let t: TestApp
  before(async () => {
    t = await createTestApp({ routes: [fixtureRoutes], env: { CORS_ORIGINS: 'https://console.example.com' } })
  })
  after(() => t.close())

  test('[SRS-HTTP-001] an unknown path answers 404 problem+json', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/no/such/path' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.headers['content-type'], PROBLEM)
    const body = res.json()
    assert.equal(body.type, 'urn:vigil:problem:not-found')
    assert.equal(body.status, 404)
    assert.equal(body.code, 'NOT_FOUND')
    assert.equal(body.requestId, res.headers['x-request-id'])
  })

  test('[SRS-HTTP-002] an unknown body field answers 400 problem+json naming the field, and nothing is echoed', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { name: 'a', count: 1, sneaky: 'x-unknown-value' },
    })
    assert.equal(res.statusCode, 400)
    assert.equal(res.headers['content-type'], PROBLEM)
    const body = res.json()
    assert.equal(body.code, 'VALIDATION_FAILED')
    assert.deepEqual(body.errors, [{ pointer: '/body/sneaky', detail: 'unknown field' }])
    assert.ok(!res.body.includes('x-unknown-value'))
  })

  test('[SRS-HTTP-002] an unknown field inside a nested object is rejected too', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { name: 'a', count: 1, nested: { flag: true, extra: 1 } },
    })
    assert.equal(res.statusCode, 400)
    assert.deepEqual(res.json().errors, [{ pointer: '/body/nested/extra', detail: 'unknown field' }])
  })

  test('[SRS-HTTP-002] body types are never coerced: "5" for an integer and "true" for a boolean are refused', async () => {
    const a = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'a', count: '5' } })
    assert.equal(a.statusCode, 400)
    assert.equal(a.json().errors[0].pointer, '/body/count')
    const b = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { name: 'a', count: 1, nested: { flag: 'true' } },
    })
    assert.equal(b.statusCode, 400)
    const c = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 5, count: 1 } })
    assert.equal(c.statusCode, 400)
  })

  test('[SRS-HTTP-002] a valid body passes and the response schema drops fields the route did not declare', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'a', count: 2 } })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { name: 'a', count: 2 })
    assert.ok(!res.body.includes('must-not-leak'))
  })

  test('[SRS-HTTP-003] a 2 MB body answers 413 problem+json', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), count: 1 })
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: big,
    })
    assert.equal(res.statusCode, 413)
    assert.equal(res.headers['content-type'], PROBLEM)
    assert.equal(res.json().code, 'BODY_TOO_LARGE')
  })

  test('[SRS-HTTP-004] an internal error answers 500 problem+json without stack or message; the log keeps the cause', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/test/boom' })
    assert.equal(res.statusCode, 500)
    assert.equal(res.headers['content-type'], PROBLEM)
    const body = res.json()
    assert.deepEqual(Object.keys(body).sort(), ['code', 'instance', 'requestId', 'status', 'title', 'type'])
    assert.equal(body.code, 'INTERNAL')
    assert.ok(!res.body.includes('db-internal'))
    assert.ok(!res.body.includes('Jane Doe'))
    assert.ok(!/at .*\.ts:\d+/.test(res.body), 'no stack frames')
    const logged = t.logs.entries().find((e) => e.requestId === body.requestId && e.msg === 'unhandled error')
    assert.ok(logged, 'the cause is logged for operators')
  })

  test('[SRS-HTTP-009] an unsupported content type answers 415 and malformed JSON 400, both problem+json', async () => {
    const a = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'text/xml' },
      payload: '<a/>',
    })
    assert.equal(a.statusCode, 415)
    assert.equal(a.headers['content-type'], PROBLEM)
    assert.equal(a.json().code, 'UNSUPPORTED_MEDIA_TYPE')
    const b = await t.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    })
    assert.equal(b.statusCode, 400)
    assert.equal(b.headers['content-type'], PROBLEM)
    assert.equal(b.json().code, 'MALFORMED_BODY')
  })

  test('[SRS-HTTP-005] every response carries X-Request-Id; a valid incoming id is kept, an invalid one replaced', async () => {
    const kept = await t.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'client-req-12345678' },
    })
    assert.equal(kept.headers['x-request-id'], 'client-req-12345678')
    const injected = await t.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'bad id\r\nwith "quotes" and spaces' },
    })
    assert.match(String(injected.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    const generated = await t.app.inject({ method: 'GET', url: '/nope' })
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    const error = await t.app.inject({
      method: 'GET',
      url: '/test/boom',
      headers: { 'x-request-id': 'trace-me-0001' },
    })
    assert.equal(error.headers['x-request-id'], 'trace-me-0001')
  })

  test('[SRS-HTTP-006] security headers on API responses and errors; no HSTS over plain HTTP', async () => {
    for (const url of ['/health/live', '/nope', '/test/boom']) {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
      assert.equal(res.headers['x-frame-options'], 'DENY', url)
      assert.match(
        String(res.headers['content-security-policy']),
        /default-src 'none'.*frame-ancestors 'none'/,
        url,
      )
      assert.equal(res.headers['cache-control'], 'no-store', url)
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url)
      assert.equal(res.headers['strict-transport-security'], undefined, url)
    }
  })

  test('[SRS-HTTP-007] CORS: an allowed origin is granted, any other origin is not', async () => {
    const allowed = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v2/',
      headers: {
        origin: 'https://console.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    })
    assert.equal(allowed.statusCode, 204)
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://console.example.com')
    assert.match(String(allowed.headers['access-control-allow-headers']), /Authorization/i)

    const simple = await t.app.inject({
      method: 'GET',
      url: '/api/v2/',
      headers: { origin: 'https://console.example.com' },
    })
    assert.equal(simple.headers['access-control-allow-origin'], 'https://console.example.com')
    assert.match(String(simple.headers['access-control-expose-headers']), /X-Request-Id/)

    const denied = await t.app.inject({
      method: 'GET',
      url: '/api/v2/',
      headers: { origin: 'https://evil.example.net' },
    })
    assert.equal(denied.headers['access-control-allow-origin'], undefined)
    const deniedPreflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v2/',
      headers: { origin: 'https://console.example.com.evil.net', 'access-control-request-method': 'GET' },
    })
    assert.equal(deniedPreflight.headers['access-control-allow-origin'], undefined)
  })
})

describe('HTTP core without CORS origins configured', () => {
  test('[SRS-HTTP-007] no origin is granted cross-origin access when CORS_ORIGINS is empty', async () => {
    const t = await createTestApp({ env: { CORS_ORIGINS: '' } })
    try {
      const res = await t.app.inject({
        method: 'GET',
        url: '/api/v2/',
        headers: { origin: 'https://console.example.com' },
      })
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['access-control-allow-origin'], undefined)
    } finally {
      await t.close()
    }
  })
})
