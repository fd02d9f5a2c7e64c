// The request log: one JSON line per request, on completion. It is written from an onResponse
// hook, inside the request's trace context, so the line carries the trace id beside the request
// id. Method, path (without query string), route pattern, status and duration — never headers
// or bodies (logger.ts serializers).

import type { FastifyInstance } from 'fastify'

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const level = reply.statusCode >= 500 ? 'error' : 'info'
    request.log[level](
      { req: request, res: reply, responseTime: Math.round(reply.elapsedTime * 100) / 100 },
      'request completed',
    )
  })
}
