import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import type { Readiness } from './check-readiness.ts'

const Check = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]), latencyMs: Type.Number() })

export function healthRoutes(deps: { checkReadiness: () => Promise<Readiness> }): FastifyPluginAsync {
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
          response: {
            200: Type.Object({ status: Type.Literal('ok'), checks: Type.Record(Type.String(), Check) }),
            503: {
              description: 'A dependency is down; `detail` names it',
              content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
            },
          },
        },
      },
      async () => {
        const readiness = await deps.checkReadiness()
        if (!readiness.ready) {
          const down = Object.entries(readiness.checks)
            .filter(([, c]) => c.status === 'down')
            .map(([name]) => name)
          throw new AppError('SERVICE_UNAVAILABLE', `Unavailable: ${down.join(', ')}`, { headers: { 'retry-after': '5' } })
        }
        return { status: 'ok' as const, checks: readiness.checks }
      },
    )
  }
}
