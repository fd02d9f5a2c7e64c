// Traces leave the real process over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and the
// JSON log line of a request carries the trace id of the exported spans.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  childEnv,
  get,
  removeDir,
  startServer,
  stopServer,
  tempDir,
  until,
  type LogEntry,
  type Proc,
} from './server-process.ts'

interface Export {
  readonly path: string
  readonly contentType: string
  readonly body: Buffer
}

interface ExportedSpan {
  readonly traceId: string
  readonly name: string
  readonly kind: number | undefined
  readonly serviceName: string | undefined
  readonly attributes: Record<string, unknown>
}

interface OtlpAttribute {
  key: string
  value?: { stringValue?: string; intValue?: number | string; boolValue?: boolean }
}
interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] }
    scopeSpans?: {
      spans?: { traceId?: string; name?: string; kind?: number; attributes?: OtlpAttribute[] }[]
    }[]
  }[]
}

const SPAN_KIND_SERVER = 2

function attributeMap(attributes: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const a of attributes ?? []) {
    const v = a.value ?? {}
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue)
  }
  return out
}

/** OTLP/JSON carries trace ids as 32 hex digits (some older exporters: base64 of the 16 bytes). */
function normaliseTraceId(id: string): string {
  return /^[0-9a-f]{32}$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex')
}

function spansOf(exp: Export): ExportedSpan[] {
  assert.match(exp.contentType, /application\/json/, 'the exporter sends OTLP/JSON')
  const doc = JSON.parse(exp.body.toString('utf8')) as OtlpJson
  return (doc.resourceSpans ?? []).flatMap((rs) => {
    const serviceName = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: normaliseTraceId(s.traceId ?? ''),
        name: s.name ?? '',
        kind: s.kind,
        serviceName,
        attributes: attributeMap(s.attributes),
      })),
    )
  })
}

describe('OpenTelemetry export and log correlation', () => {
  const exports: Export[] = []
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      exports.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks),
      })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  let dataDir: string
  let proc: Proc | undefined
  let address = ''

  before(async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    const { port } = collector.address() as AddressInfo
    dataDir = tempDir('tracing')
    const serving = await startServer(
      childEnv(
        dataDir,
        { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
        { externalServices: true },
      ),
    )
    proc = serving.proc
    address = serving.address
  })

  after(async () => {
    await proc?.kill()
    collector.closeAllConnections()
    await new Promise<void>((resolve) => collector.close(() => resolve()))
    removeDir(dataDir)
  })

  test('[SRS-OBS-001][SRS-OBS-002] a request is exported as OTLP spans whose trace id is the one in its JSON log line; credentials stay out of the log', async () => {
    assert.ok(proc)
    assert.equal(
      proc.entries().find((e) => e.msg === 'database opened')?.database,
      process.env.DATABASE_URL ? 'postgres' : 'pglite',
    )
    const requestId = 'otel-correlation-test-0001'
    const bearer = 'bearer-token-that-must-not-be-logged-0123456789'
    const cookie = 'session-cookie-that-must-not-be-logged-0123456789'
    const res = await get(`${address}/health/live?access_token=query-token-not-logged-0123`, {
      headers: { 'x-request-id': requestId, authorization: `Bearer ${bearer}`, cookie: `sid=${cookie}` },
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-request-id'), requestId)

    const line = await proc.waitForLog(
      'request completed with a trace id',
      (e: LogEntry) => e.requestId === requestId && e.msg === 'request completed',
      10_000,
    )
    assert.equal(typeof line.traceId, 'string')
    assert.match(line.traceId as string, /^[0-9a-f]{32}$/)
    assert.notEqual(line.traceId, '0'.repeat(32))
    assert.match(String(line.spanId), /^[0-9a-f]{16}$/)
    const traceId = line.traceId as string
    const requestLines = proc.entries().filter((e) => e.requestId === requestId)
    assert.ok(requestLines.length >= 1)
    for (const e of requestLines)
      assert.equal(e.traceId, traceId, 'every line of the request carries its one trace id')

    // The batch processor flushes about every second; bounded wait for our trace.
    const exported = await until(
      `an OTLP export with trace ${traceId}`,
      () => {
        const spans = exports.flatMap(spansOf).filter((s) => s.traceId === traceId)
        return spans.length > 0 ? spans : undefined
      },
      15_000,
      100,
    )
    assert.ok(
      exports.every((e) => e.path === '/v1/traces'),
      'spans go to <endpoint>/v1/traces',
    )
    assert.ok(exported.length >= 1)
    assert.ok(exported.every((s) => s.serviceName === 'vigil'))
    // The request's server span: the route, the method and the status, under the logged trace id.
    const server = exported.find((s) => s.kind === SPAN_KIND_SERVER)
    assert.ok(
      server,
      `a SERVER span in trace ${traceId}; got ${exported.map((s) => s.name.slice(0, 40)).join(', ')}`,
    )
    assert.equal(server.attributes['http.route'], '/health/live')
    assert.equal(server.attributes['http.request.method'], 'GET')
    assert.equal(server.attributes['http.response.status_code'], 200)

    const output = proc.stdout + proc.stderr
    assert.ok(!output.includes(bearer), 'the bearer token is not logged')
    assert.ok(!output.includes(cookie), 'the cookie is not logged')
    assert.ok(!output.includes('query-token-not-logged'), 'the query string is not logged')
    const exportedText = exports.map((e) => e.body.toString('utf8')).join('\n')
    for (const secret of [bearer, cookie, 'query-token-not-logged'])
      assert.ok(
        !exportedText.includes(secret),
        `no credential in the exported spans (${secret.slice(0, 12)}…)`,
      )
    assert.equal(
      server.attributes['url.path'],
      '/health/live',
      'the span records the path without its query string',
    )
    assert.ok(
      exported.every((s) => s.name.length < 80),
      'span names do not quote plugin source code',
    )

    const exit = await stopServer(proc)
    assert.deepEqual(exit, { code: 0, signal: null }, proc.stdout + proc.stderr)
  })
})
