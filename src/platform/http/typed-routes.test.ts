// The TypeBox type provider (ADR-0030): a RoutePlugin's handlers read request.body, query and params
// with the types of the route's schemas. The @ts-expect-error lines fail `npm run typecheck` (CI)
// the day a handler could again read a field its schema does not declare.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import { Type } from 'typebox'
import { noContent, type RoutePlugin } from './typed-routes.ts'

const Body = Type.Object({ name: Type.String(), count: Type.Integer() }, { additionalProperties: false })
const Params = Type.Object({ id: Type.String() }, { additionalProperties: false })

const plugin: RoutePlugin = async (app) => {
  app.post(
    '/things/:id',
    {
      schema: {
        params: Params,
        body: Body,
        response: { 200: Type.Object({ id: Type.String(), twice: Type.Integer() }) },
      },
    },
    async (request) => {
      const count: number = request.body.count
      // @ts-expect-error the body schema has no `colour`
      void request.body.colour
      // @ts-expect-error `name` is a string, not a number
      const wrong: number = request.body.name
      void wrong
      return { id: request.params.id, twice: count * 2 }
    },
  )
  app.delete(
    '/things/:id',
    { schema: { params: Params, response: { 204: Type.Null() } } },
    async (_request, reply) => noContent(reply),
  )
}

test('[SRS-ARCH-601] route handlers are typed from their schemas (no casts of request.body/query/params); 204 replies stay empty', async () => {
  const app = Fastify()
  await app.register(plugin)
  const created = await app.inject({ method: 'POST', url: '/things/a1', payload: { name: 'x', count: 21 } })
  assert.equal(created.statusCode, 200)
  assert.deepEqual(created.json(), { id: 'a1', twice: 42 })
  const deleted = await app.inject({ method: 'DELETE', url: '/things/a1' })
  assert.equal(deleted.statusCode, 204)
  assert.equal(deleted.body, '')
  assert.equal(deleted.headers['content-type'], undefined)
  await app.close()
})
