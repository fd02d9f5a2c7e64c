// OpenTelemetry traces. A tracer provider is always registered so every request has a trace id
// (logged beside the request id and kept in its audit entry); spans are exported over OTLP/HTTP
// only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without an exporter nothing would read a span, so
// none is recorded (the sampler drops them: a request still gets its trace id, from the incoming
// `traceparent` or a new one) and PostgreSQL and Redis get no client spans — recording them cost
// the single reading about a tenth of its server CPU for nothing (issue 17).
// What a trace holds (issue 12): one root span per request named `METHOD route` (semantic
// conventions: the route pattern, never the path), the handler, and a client span for every
// PostgreSQL query and Redis command made inside it (@opentelemetry/instrumentation-pg and
// -ioredis). Fastify's lifecycle hooks get no spans of their own: the time they take is in the
// database and Redis spans beneath the root, and a dozen empty hook spans per request only hid it.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import type { FastifyPluginCallback } from 'fastify'
import { loggablePath } from './logger.ts'

export interface Tracing {
  readonly fastifyPlugin: FastifyPluginCallback
  /** Flushes pending spans to the exporter. */
  flush(): Promise<void>
  shutdown(): Promise<void>
}

let active: Tracing | undefined

/** Process-wide, like the OpenTelemetry API it feeds: the first call configures, later calls reuse. */
export function startTracing(options: {
  endpoint: string | undefined
  serviceName: string
  version: string
}): Tracing {
  if (active) return active
  const spanProcessors: SpanProcessor[] = []
  if (options.endpoint) {
    const url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`
    spanProcessors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 }),
    )
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    spanProcessors,
    ...(options.endpoint ? {} : { sampler: new AlwaysOffSampler() }),
  })
  provider.register()
  const instrumentation = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    // The span records the path only: a query string can carry tokens or identifiers, and a route
    // whose path carries a token (a mailed link) is recorded by its pattern (logger.ts).
    requestHook: (span, request) => {
      span.setAttribute('url.path', loggablePath(request) ?? '/')
      const route = request.routeOptions?.url
      span.updateName(route ? `${request.method} ${route}` : request.method)
    },
  })
  if (options.endpoint) enableClientSpans(provider)
  instrumentation.setTracerProvider(provider)
  active = {
    fastifyPlugin: instrumentation.plugin() as unknown as FastifyPluginCallback,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  }
  return active
}

const requireCjs = createRequire(import.meta.url)

/** The version in the package.json of the package that owns `file` (its exports may hide package.json). */
function packageVersion(file: string, name: string): string {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === name && pkg.version) return pkg.version
    } catch {
      // no package.json here
    }
  }
  throw new Error(`no package.json found for ${name}`)
}

/**
 * PostgreSQL and Redis client spans. The instrumentations normally patch `pg` and `ioredis` as
 * they are first required; this service loads them as ES modules, before tracing starts, so the
 * instrumentations' own module patches are applied here to the loaded modules (the same objects
 * the ES imports see). Only inside a request or job span: no orphan spans for heartbeats.
 * Statements are recorded as parameterised SQL (never the values); Redis commands by name only.
 */
function enableClientSpans(provider: NodeTracerProvider): void {
  const instrumentations = [
    new PgInstrumentation({ enabled: false, requireParentSpan: true, enhancedDatabaseReporting: false }),
    new IORedisInstrumentation({
      enabled: false,
      requireParentSpan: true,
      dbStatementSerializer: (command) => command,
    }),
  ]
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(provider)
    for (const definition of instrumentation.getModuleDefinitions()) {
      // pg-pool is pg's dependency: patch the copy pg itself loads.
      const from = definition.name === 'pg-pool' ? createRequire(requireCjs.resolve('pg')) : requireCjs
      const main = from.resolve(definition.name)
      const exports: unknown = from(main)
      definition.patch?.(exports, packageVersion(main, definition.name))
    }
  }
}
