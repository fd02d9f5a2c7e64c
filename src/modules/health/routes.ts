import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { Readiness } from './check-readiness.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Check = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]),
  latencyMs: Type.Number(),
  critical: Type.Boolean({
    description:
      'Without a critical dependency the instance is not ready (503); without another it is degraded (200).',
  }),
})

export function healthRoutes(deps: { checkReadiness: () => Promise<Readiness> }): RoutePlugin {
  return async function healthRoutesPlugin(app) {
    app.get(
      '/health/live',
      {
        config: { public: 'Liveness probe for orchestrators and load balancers; reveals nothing but "up"' },
        schema: {
          tags: ['Operations'],
          summary: 'Liveness: the process is up and serving HTTP',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    )

    app.get(
      '/health/ready',
      {
        config: { public: 'Readiness probe for orchestrators; reports only which dependency is down' },
        schema: {
          tags: ['Operations'],
          summary: 'Readiness: the database (and Redis when configured) answer a real query',
          description:
            'The database is critical: when it does not answer, 503 (the instance cannot serve; a load balancer should drain it). ' +
            'Redis is not: when it does not answer, 200 with `status: "degraded"` (rate limits count per instance until it is back).',
          response: {
            200: Type.Object(
              {
                status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
                checks: Type.Record(Type.String(), Check),
              },
              {
                examples: [
                  {
                    status: 'ok',
                    checks: {
                      database: { status: 'ok', latencyMs: 0.8, critical: true },
                      redis: { status: 'ok', latencyMs: 0.3, critical: false },
                    },
                  },
                  {
                    status: 'degraded',
                    checks: {
                      database: { status: 'ok', latencyMs: 0.9, critical: true },
                      redis: { status: 'down', latencyMs: 500.2, critical: false },
                    },
                  },
                ],
              },
            ),
            503: {
              description: 'A critical dependency (the database) is down; `detail` names it',
              content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
            },
          },
        },
      },
      async () => {
        const readiness = await deps.checkReadiness()
        if (!readiness.ready) {
          const down = Object.entries(readiness.checks)
            .filter(([, c]) => c.status === 'down' && c.critical)
            .map(([name]) => name)
          throw new AppError('SERVICE_UNAVAILABLE', `Unavailable: ${down.join(', ')}`, {
            headers: { 'retry-after': '5' },
          })
        }
        return {
          status: readiness.degraded ? ('degraded' as const) : ('ok' as const),
          checks: readiness.checks,
        }
      },
    )
  }
}
