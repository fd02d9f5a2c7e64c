// What a trace holds (issue 12): a root span per request named `METHOD route`, PostgreSQL and
// Redis client spans beneath it, no spans for Fastify's lifecycle hooks, and the trace id in the
// request's audit entry. In-process app on a PostgreSQL cluster and a Redis of the test's own,
// spans exported over OTLP/HTTP to a local receiver.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { migrate, openDatabase, type Database } from '../../src/platform/db/index.ts'
import { startTracing, type Tracing } from '../../src/platform/observability/tracing.ts'
import { createRedisClient } from '../../src/platform/redis/client.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { freePort } from '../support/ports.ts'
import { PgCluster } from '../support/pg-cluster.ts'
import { Proc, removeDir, tempDir, until } from './server-process.ts'

interface Span {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind?: number
  attributes: Record<string, unknown>
}

function hex(id: string | undefined): string {
  if (!id) return ''
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex')
}

describe('traces: named root spans, database and Redis client spans', () => {
  const bodies: string[] = []
  const collector = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  let base: string
  let cluster: PgCluster
  let redis: Proc | undefined
  let db: Database
  let t: TestApp | undefined
  let tracing: Tracing
  let redisClient: { disconnect(): void } | undefined

  const spans = (): Span[] =>
    bodies.flatMap((b) => {
      const doc = JSON.parse(b) as {
        resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>
      }
      return (doc.resourceSpans ?? []).flatMap((rs) =>
        (rs.scopeSpans ?? []).flatMap((ss) =>
          (ss.spans ?? []).map((s) => ({
            traceId: hex(s.traceId as string),
            spanId: hex(s.spanId as string),
            parentSpanId: hex(s.parentSpanId as string | undefined),
            name: String(s.name),
            kind: s.kind as number | undefined,
            attributes: Object.fromEntries(
              ((s.attributes as Array<{ key: string; value: Record<string, unknown> }>) ?? []).map((a) => [
                a.key,
                Object.values(a.value)[0],
              ]),
            ),
          })),
        ),
      )
    })

  before(async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    tracing = startTracing({
      endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      serviceName: 'vigil',
      version: 'test',
    })
    base = tempDir('tracing-spans')
    cluster = await PgCluster.create(base)
    cluster.start()
    const url = await cluster.createDatabase('vigil_tracing')
    const redisPort = await freePort()
    redis = new Proc(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { env: { PATH: process.env.PATH ?? '' } },
    )
    await redis.waitFor(
      'redis ready',
      () => (redis!.stdout.includes('Ready to accept connections') ? true : undefined),
      10_000,
    )
    db = await openDatabase({ databaseUrl: url, poolMax: 4 })
    await migrate(db)
    const client = createRedisClient(`redis://127.0.0.1:${redisPort}`, { commandTimeoutMs: 1_000 })
    await until('redis client ready', () => (client.status === 'ready' ? true : undefined), 10_000)
    t = await createTestApp({
      env: { DATABASE_URL: url, REDIS_URL: `redis://127.0.0.1:${redisPort}` },
      deps: { db, tracing, redis: client },
    })
    redisClient = client
  })
  after(async () => {
    await t?.close()
    redisClient?.disconnect()
    await db?.close()
    await tracing?.shutdown()
    await redis?.kill()
    await cluster?.destroy()
    removeDir(base)
    collector.closeAllConnections()
    await new Promise<void>((resolve) => collector.close(() => resolve()))
  })

  test('[SRS-OBS-250] a request is one root span named "METHOD route" with PostgreSQL and Redis client spans beneath it and no hook spans; its audit entry carries the trace id', async () => {
    assert.ok(t)
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const ready = await fetch(`${address}/health/ready`)
    assert.equal(ready.status, 200)
    const requestId = 'tracing-spans-0000001'
    const index = await fetch(`${address}/api/v2/`, { headers: { 'x-request-id': requestId } })
    assert.equal(index.status, 200)
    const audited = await until(
      'the audit entry',
      async () =>
        (
          await db.query<{ trace_id: string | null }>(
            'SELECT trace_id FROM audit_entries WHERE request_id = $1',
            [requestId],
          )
        ).rows[0],
      10_000,
      50,
    )
    await tracing.flush()

    const all = await until(
      'the exported spans',
      () => {
        const s = spans()
        return s.some((x) => x.name === 'GET /health/ready') && s.some((x) => x.name === 'GET /api/v2')
          ? s
          : undefined
      },
      15_000,
      100,
    )
    const root = all.find((s) => s.name === 'GET /health/ready')!
    assert.equal(root.kind, 2, 'the root is a SERVER span')
    assert.equal(root.attributes['http.route'], '/health/ready')
    const inTrace = all.filter((s) => s.traceId === root.traceId)
    const pg = inTrace.filter(
      (s) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql',
    )
    const rd = inTrace.filter(
      (s) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis',
    )
    assert.ok(
      pg.length >= 1,
      `a PostgreSQL client span in the request's trace; got ${inTrace.map((s) => s.name).join(', ')}`,
    )
    assert.ok(
      rd.length >= 1,
      `a Redis client span in the request's trace; got ${inTrace.map((s) => s.name).join(', ')}`,
    )
    for (const s of [...pg, ...rd]) assert.equal(s.kind, 3, 'database spans are CLIENT spans')
    const byId = new Map(all.map((s) => [s.spanId, s]))
    const rootOf = (s: Span): Span =>
      s.parentSpanId && byId.get(s.parentSpanId) ? rootOf(byId.get(s.parentSpanId)!) : s
    for (const s of [...pg, ...rd])
      assert.equal(rootOf(s).spanId, root.spanId, 'client spans hang under the request span')
    assert.ok(
      !all.some((s) =>
        /^(onRequest|preParsing|preValidation|preHandler|preSerialization|onSend|onResponse|onError|onTimeout|onRequestAbort) - /.test(
          s.name,
        ),
      ),
      'no lifecycle hook spans',
    )
    assert.ok(inTrace.length <= 8, `a handful of spans per request, not dozens (${inTrace.length})`)

    const apiRoot = all.find((s) => s.name === 'GET /api/v2')!
    assert.equal(audited.trace_id, apiRoot.traceId, 'the audit entry carries the request trace id')
    console.log(
      `# tracing: /health/ready trace has ${inTrace.length} spans: ${inTrace.map((s) => s.name).join(', ')}`,
    )
  })
})
