import { timingSafeEqual, createHash } from 'node:crypto'

import type { Registry } from 'prom-client'
import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export function metricsRoutes(deps: { registry: Registry; token: string | undefined }): RoutePlugin {
  const expected = deps.token === undefined ? undefined : digest(`Bearer ${deps.token}`)
  return async function metricsRoutesPlugin(app) {
    app.get(
      '/metrics',
      {
        config: {
          public:
            'Prometheus scrape endpoint: no health data; guarded by its own METRICS_TOKEN, which production requires',
          otel: false,
        },
        schema: {
          tags: ['Operations'],
          summary: 'Prometheus metrics (text exposition format)',
          description: 'When METRICS_TOKEN is set, send `Authorization: Bearer <METRICS_TOKEN>`.',
          security: [{}, { metricsToken: [] }],
          response: {
            200: {
              description: 'Prometheus text format 0.0.4',
              content: { 'text/plain': { schema: Type.String() } },
            },
            401: {
              description: 'METRICS_TOKEN is set and the request did not carry it',
              content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
            },
          },
        },
      },
      async (request, reply) => {
        if (expected !== undefined) {
          // Compare digests in constant time: a plain === leaks how many bytes matched.
          const given = digest(request.headers.authorization ?? '')
          if (!timingSafeEqual(given, expected)) {
            throw new AppError('UNAUTHENTICATED', 'This endpoint needs the metrics token', {
              headers: { 'www-authenticate': 'Bearer realm="metrics"' },
            })
          }
        }
        // Plain text: bypass the JSON serializer the response schema would otherwise apply.
        reply.type(deps.registry.contentType).serializer((payload: unknown) => String(payload))
        return deps.registry.metrics()
      },
    )
  }
}
