// Test-only routes that exercise the cross-cutting contract through the same registration
// checks as real routes (they declare access, summaries and examples like any route).
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Action } from '../../src/security/policy/index.ts'

export const EchoBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    count: Type.Integer({ minimum: 0 }),
    nested: Type.Optional(Type.Object({ flag: Type.Boolean() }, { additionalProperties: false })),
    password: Type.Optional(Type.String()),
  },
  { additionalProperties: false, examples: [{ name: 'reading', count: 3 }] },
)

export const fixtureRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    '/test/echo',
    {
      config: { public: 'test fixture: echoes a validated body' },
      schema: {
        summary: 'Echo a validated body',
        body: EchoBody,
        response: { 200: Type.Object({ name: Type.String(), count: Type.Integer() }) },
      },
    },
    async (request) => {
      const body = request.body as { name: string; count: number; secretField?: string }
      // The response schema is enforced: the extra field below never leaves the service.
      return { ...body, secretField: 'must-not-leak' }
    },
  )

  app.get(
    '/test/boom',
    {
      config: { public: 'test fixture: throws an unexpected error' },
      schema: { summary: 'Throw an internal error', response: { 200: Type.Object({}) } },
    },
    async () => {
      const err = new Error('connection to db-internal.example:5432 failed for patient Jane Doe')
      throw err
    },
  )

  app.get(
    '/test/protected',
    {
      // An action outside the policy's union on purpose: the default-deny test needs one no rule permits.
      config: { policy: 'fixture.read' as Action },
      schema: { summary: 'A policy-guarded fixture', response: { 200: Type.Object({ ok: Type.Boolean() }) } },
    },
    async () => ({ ok: true }),
  )
}
