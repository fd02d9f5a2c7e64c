// Logs carry request and trace ids, and never a credential or a request body.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startTracing } from '../../src/platform/observability/tracing.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'

const BEARER = 'eyJhbGciOiJFUzI1NiJ9.secret-bearer-value.sig'
const PASSWORD = 'correct horse battery staple 42'
const COOKIE = 'session=cookie-secret-value'

describe('request logging', () => {
  let t: TestApp
  before(async () => {
    const tracing = startTracing({ endpoint: undefined, serviceName: 'vigil-test', version: 'test' })
    t = await createTestApp({ routes: [fixtureRoutes], deps: { tracing } })
  })
  after(() => t.close())

  test('[SRS-OBS-001] the log of a request carrying Authorization, a cookie and a password contains none of them', async () => {
    const requestId = 'log-redaction-0001'
    const res = await t.app.inject({
      method: 'POST',
      url: `/test/echo?access_token=${encodeURIComponent(BEARER)}&password=${encodeURIComponent(PASSWORD)}`,
      headers: { authorization: `Bearer ${BEARER}`, cookie: COOKIE, 'x-request-id': requestId },
      payload: { name: 'a', count: 1, password: PASSWORD },
    })
    assert.equal(res.statusCode, 200)
    const lines = t.logs.lines.filter((l) => l.includes(requestId))
    assert.equal(lines.length, 1, 'one line per request')
    assert.match(lines[0] ?? '', /"route":"\/test\/echo"/)
    const text = t.logs.text
    assert.ok(!text.includes('secret-bearer-value'), 'no bearer token')
    assert.ok(!text.includes('correct horse'), 'no password')
    assert.ok(!text.includes('cookie-secret-value'), 'no cookie')
    assert.ok(!text.includes('access_token='), 'no query string')
  })

  test('[SRS-OBS-001] an error log keeps the request id but not the body that caused it', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/test/boom',
      headers: { authorization: `Bearer ${BEARER}`, 'x-request-id': 'log-error-0002' },
    })
    assert.equal(res.statusCode, 500)
    const entry = t.logs.entries().find((e) => e.requestId === 'log-error-0002' && e.level === 50)
    assert.ok(entry, 'error logged with its request id')
    assert.ok(!JSON.stringify(entry).includes('secret-bearer-value'))
  })

  test('[SRS-OBS-001] every completed request is logged as JSON with its request id and trace id', async () => {
    await t.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'log-trace-0003' } })
    const completed = t.logs
      .entries()
      .find((e) => e.requestId === 'log-trace-0003' && e.msg === 'request completed')
    assert.ok(completed, 'completion line present')
    assert.match(String(completed.traceId), /^[0-9a-f]{32}$/)
    assert.match(String(completed.spanId), /^[0-9a-f]{16}$/)
    assert.equal(typeof completed.time, 'string')
    assert.match(
      String(completed.time),
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
      'UTC RFC 3339 timestamps',
    )
  })

  test('[SRS-OBS-001] with no exporter configured (no span recorded), a request still has a trace id, the same in its log line and its audit entry', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v2/me',
      headers: { 'x-request-id': 'log-trace-0004' },
    })
    assert.equal(res.statusCode, 401)
    const completed = t.logs
      .entries()
      .find((e) => e.requestId === 'log-trace-0004' && e.msg === 'request completed')
    assert.ok(completed, 'completion line present')
    assert.match(String(completed.traceId), /^[0-9a-f]{32}$/)
    assert.notEqual(completed.traceId, '0'.repeat(32))
    // A refusal's entry is written after the response has gone: wait for it.
    let rows: Array<{ trace_id: string | null }> = []
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      ;({ rows } = await t.db.query<{ trace_id: string | null }>(
        'SELECT trace_id FROM audit_entries WHERE request_id = $1',
        [completed.requestId],
      ))
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(rows.length, 1, 'one audit entry')
    assert.equal(rows[0]?.trace_id, completed.traceId)
  })
})
