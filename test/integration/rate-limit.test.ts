// The per-address rate limit: 429 problem+json with Retry-After once the minute's budget is spent,
// before authentication (bad tokens count too), never on the health probes; with Redis, every
// instance shares the counter.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'

const LIMIT = 5

describe('rate limit', () => {
  let a: TestApp
  let b: TestApp
  before(async () => {
    a = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } })
    b = await createTestApp({ deps: { db: a.db }, env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } })
  })
  after(async () => {
    await b.close()
    await a.close()
  })

  test('[SRS-HTTP-010] over the limit: 429 problem+json with Retry-After, bad tokens counted; probes never limited; with Redis the instances share one counter', async () => {
    const first = await a.app.inject({ method: 'GET', url: '/api/v2/' })
    assert.equal(first.statusCode, 200)
    assert.equal(first.headers['x-ratelimit-limit'], String(LIMIT))
    const remaining = Number(first.headers['x-ratelimit-remaining'])
    assert.ok(remaining < LIMIT)

    const second = await b.app.inject({
      method: 'GET',
      url: '/api/v2/me',
      headers: { authorization: 'Bearer forged-token' },
    })
    assert.equal(second.statusCode, 401, 'a bad token is answered, and counted')
    const afterB = Number(second.headers['x-ratelimit-remaining'])
    if (a.config.redisUrl)
      assert.equal(afterB, remaining - 1, "with Redis the second instance sees the first one's request")
    else assert.equal(afterB, LIMIT - 1, 'without Redis each instance counts alone')

    let limited = await a.app.inject({ method: 'GET', url: '/api/v2/' })
    for (let i = 0; i < LIMIT + 1 && limited.statusCode !== 429; i++)
      limited = await a.app.inject({ method: 'GET', url: '/api/v2/' })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(limited.json().code, 'RATE_LIMITED')
    assert.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
    const anon = await a.app.inject({
      method: 'GET',
      url: '/api/v2/me',
      headers: { authorization: 'Bearer forged-token' },
    })
    assert.equal(anon.statusCode, 429, 'limited before authentication')

    for (let i = 0; i < LIMIT + 2; i++)
      assert.equal(
        (await a.app.inject({ method: 'GET', url: '/health/live' })).statusCode,
        200,
        'probes are never limited',
      )
  })

  test('[SRS-HTTP-010] the 429 is documented on every rate-limited operation, not on the probes', async () => {
    // An app of its own: the first test spent this address's budget on a and b.
    const c = await createTestApp({ deps: { db: a.db }, env: { RATE_LIMIT_PER_MINUTE: '100000' } })
    const res = await c.app.inject({ method: 'GET', url: '/openapi.json' })
    await c.close()
    assert.equal(res.statusCode, 200)
    const doc = res.json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
    }
    assert.ok(doc.paths['/api/v2/me']?.get?.responses['429'])
    assert.ok(doc.paths['/openapi.json']?.get?.responses['429'])
    assert.equal(doc.paths['/health/live']?.get?.responses['429'], undefined)
  })
})
