import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createTestApp, openTestDatabase, type TestApp } from '../support/app.ts'
import { testConfig } from '../support/config.ts'

describe('health probes', () => {
  let t: TestApp
  before(async () => {
    t = await createTestApp()
  })
  after(() => t.close())

  test('[SRS-OPS-001] /health/live answers 200 without touching dependencies', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/live' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { status: 'ok' })
  })

  test('[SRS-OPS-001] /health/ready runs a real query on the database (and pings Redis when configured)', async () => {
    // The app's Redis connection opens in the background (no offline queue): until it is up the
    // probe truthfully says "degraded", so wait for it (a loaded CI machine took longer than the
    // app's own start-up once) — a Redis that never answers still fails below.
    let res = await t.app.inject({ method: 'GET', url: '/health/ready' })
    for (let waited = 0; t.config.redisUrl && res.json().status !== 'ok' && waited < 5_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      res = await t.app.inject({ method: 'GET', url: '/health/ready' })
    }
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.status, 'ok')
    assert.equal(body.checks.database.status, 'ok')
    assert.equal(typeof body.checks.database.latencyMs, 'number')
    if (t.config.redisUrl) assert.equal(body.checks.redis.status, 'ok')
    else assert.equal(body.checks.redis, undefined)
  })

  test('[SRS-OPS-001] /health/ready answers 503 problem+json naming the database when it is down', async () => {
    const config = testConfig()
    const db = await openTestDatabase(config)
    const down = await createTestApp({ deps: { db } })
    try {
      await db.close() // the dependency goes away under a running app
      const res = await down.app.inject({ method: 'GET', url: '/health/ready' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(res.json().code, 'SERVICE_UNAVAILABLE')
      assert.match(res.json().detail, /database/)
      assert.equal(res.headers['retry-after'], '5')
      const live = await down.app.inject({ method: 'GET', url: '/health/live' })
      assert.equal(live.statusCode, 200, 'liveness does not depend on the database')
    } finally {
      await down.close()
    }
  })

  test('[SRS-OPS-001][SRS-OPS-253] /health/ready answers 200 "degraded" naming Redis when the configured Redis is unreachable, and says so in the metrics', async () => {
    // A real client pointed at a port where nothing listens.
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 300,
      retryStrategy: () => null,
    })
    redis.on('error', () => {})
    const down = await createTestApp({ deps: { db: t.db, redis } })
    try {
      const res = await down.app.inject({ method: 'GET', url: '/health/ready' })
      assert.equal(
        res.statusCode,
        200,
        'the API works without Redis (limits fail open): the instance stays in the load balancer',
      )
      assert.equal(res.json().status, 'degraded')
      assert.equal(res.json().checks.redis.status, 'down')
      assert.equal(res.json().checks.redis.critical, false)
      assert.equal(res.json().checks.database.status, 'ok')
      const metrics = await down.app.inject({ method: 'GET', url: '/metrics' })
      assert.match(metrics.body, /^vigil_dependency_up\{dependency="redis",critical="false"\} 0$/m)
      assert.match(metrics.body, /^vigil_dependency_up\{dependency="database",critical="true"\} 1$/m)
    } finally {
      await down.close()
      redis.disconnect()
    }
  })
})

describe('metrics', () => {
  test('[SRS-OPS-002] /metrics serves Prometheus text with requests by route and status, durations and the database pool', async () => {
    const t = await createTestApp()
    try {
      await t.app.inject({ method: 'GET', url: '/health/live' })
      await t.app.inject({ method: 'GET', url: '/health/live' })
      await t.app.inject({ method: 'GET', url: '/no/such/thing/123' })
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
      const text = res.body
      assert.match(text, /^vigil_http_requests_total\{method="GET",route="\/health\/live",status="200"\} 2$/m)
      assert.match(
        text,
        /^vigil_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m,
        'unknown paths share one label',
      )
      assert.doesNotMatch(text, /no\/such\/thing/)
      assert.match(
        text,
        /^vigil_http_request_duration_seconds_count\{method="GET",route="\/health\/live",status="200"\} 2$/m,
      )
      assert.match(
        text,
        /^vigil_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/health\/live",status="200"\} \d+$/m,
      )
      assert.match(text, /^vigil_db_pool_connections\{state="max"\} \d+$/m)
      assert.match(text, /^vigil_db_pool_connections\{state="total"\} \d+$/m)
    } finally {
      await t.close()
    }
  })

  test('[SRS-OPS-002] with METRICS_TOKEN set, /metrics refuses a missing or wrong token and accepts the right one', async () => {
    const token = 'metrics-token-0123456789abcdef0123456789'
    const t = await createTestApp({ env: { METRICS_TOKEN: token } })
    try {
      const none = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(none.statusCode, 401)
      assert.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8')
      const wrong = await t.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token.slice(0, -1)}x` },
      })
      assert.equal(wrong.statusCode, 401)
      const right = await t.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token}` },
      })
      assert.equal(right.statusCode, 200)
      assert.match(right.body, /vigil_http_requests_total/)
    } finally {
      await t.close()
    }
  })
})
