// OpenTelemetry traces. A tracer provider is always registered so every request has a trace id
// (logged beside the request id); spans are exported over OTLP/HTTP only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set.

import { FastifyOtelInstrumentation } from '@fastify/otel'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node'
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
export function startTracing(options: { endpoint: string | undefined; serviceName: string; version: string }): Tracing {
  if (active) return active
  const spanProcessors: SpanProcessor[] = []
  if (options.endpoint) {
    const url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 }))
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: options.version }),
    spanProcessors,
  })
  provider.register()
  const instrumentation = new FastifyOtelInstrumentation({
    // The span records the path only: a query string can carry tokens or identifiers, and a route
    // whose path carries a token (a mailed link) is recorded by its pattern (logger.ts).
    requestHook: (span, request) => span.setAttribute('url.path', loggablePath(request) ?? '/'),
  })
  instrumentation.setTracerProvider(provider)
  active = {
    fastifyPlugin: instrumentation.plugin() as unknown as FastifyPluginCallback,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  }
  return active
}
