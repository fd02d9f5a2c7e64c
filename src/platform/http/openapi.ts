// OpenAPI 3.1, generated from the route schemas (never written by hand).

import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { BEARER_SCHEME } from './route-schema.ts'

export async function registerOpenApi(app: FastifyInstance, options: { publicUrl: string; version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil API',
        version: options.version,
        description:
          'Vigil: a backend for connected medical devices and digital-health apps.\n\n' +
          'Errors are `application/problem+json` (RFC 9457) with a stable `type` and `code`. Every response carries ' +
          '`X-Request-Id`; quote it when reporting a problem. Deprecated operations answer with `Deprecation`, ' +
          '`Sunset` and `Link` headers naming their successor.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: options.publicUrl }],
      tags: [
        { name: 'API', description: 'Versioned API roots' },
        { name: 'Operations', description: 'Health, readiness, metrics and documentation' },
      ],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description: 'An opaque access token issued by the Vigil authorization server.',
          },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN configured for Prometheus scrapes.' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  })

  app.get(
    '/openapi.json',
    {
      config: { public: 'The API description is public so integrators can read it before they hold credentials' },
      schema: {
        tags: ['Operations'],
        summary: 'This OpenAPI 3.1 document',
        response: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-cache')
      return reply.serializer((doc: unknown) => JSON.stringify(doc)).send(app.swagger())
    },
  )
}
