// Issue 11 finding 9 (part): behind a proxy that TRUST_PROXY does not name, every client shares the
// proxy's address — for the rate limit and for the sign-in delay per address. Requests that carry
// X-Forwarded-For from an untrusted peer now log a warning (the first, then at most one an hour);
// with the proxy trusted, the client address is resolved through it and nothing is logged.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'

const WARNING = /X-Forwarded-For from a proxy that TRUST_PROXY does not trust/

describe('requests through a proxy that is not trusted', () => {
  let untrusted: TestApp
  let trusted: TestApp
  before(async () => {
    untrusted = await createTestApp()
    trusted = await createTestApp({ env: { TRUST_PROXY: '127.0.0.1' } })
  })
  after(async () => {
    await untrusted.close()
    await trusted.close()
  })

  const warnings = (t: TestApp) => t.logs.entries().filter((e) => WARNING.test(String(e.msg)))

  test("[SRS-HTTP-151] the first request with X-Forwarded-For from an untrusted peer logs a warning naming the peer, once; the header's value is not logged", async () => {
    assert.equal((await untrusted.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
    assert.equal(warnings(untrusted).length, 0, 'no proxy header, no warning')
    for (let i = 0; i < 3; i++)
      await untrusted.app.inject({
        method: 'GET',
        url: '/health/live',
        headers: { 'x-forwarded-for': '203.0.113.77' },
        remoteAddress: '127.0.0.1',
      })
    const logged = warnings(untrusted)
    assert.equal(logged.length, 1, 'one warning, not one per request')
    assert.equal(logged[0]?.level, 40)
    assert.equal(logged[0]?.proxyPeer, '127.0.0.1')
    assert.ok(!untrusted.logs.text.includes('203.0.113.77'), 'the forwarded address is not logged')
  })

  test('[SRS-HTTP-151] with the proxy in TRUST_PROXY nothing is logged', async () => {
    const res = await trusted.app.inject({
      method: 'GET',
      url: '/api/v2/',
      headers: { 'x-forwarded-for': '203.0.113.78' },
      remoteAddress: '127.0.0.1',
    })
    assert.equal(res.statusCode, 200)
    assert.equal(warnings(trusted).length, 0)
  })
})
