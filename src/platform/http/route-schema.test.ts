// Route-schema completion at registration (ADR-0004): a route that would accept an undeclared
// field, document a body without an example, or answer nothing documented is refused before the
// server starts; every other route gets the error statuses the framework can produce, as
// problem+json, and an explicit security requirement.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RouteOptions } from 'fastify'
import fc from 'fast-check'
import { PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA_ID } from './problem.ts'
import { BEARER_SCHEME, completeRouteSchema, RouteSchemaError } from './route-schema.ts'

type Schema = Record<string, unknown>

const closed = (properties: Schema, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  additionalProperties: false,
  ...extra,
})
const Body = closed({ name: { type: 'string' } }, { examples: [{ name: 'x' }] })
const Ok = { 200: closed({ id: { type: 'string' } }) }

function route(schema: Schema | undefined, method = 'POST', url = '/api/v2/things'): RouteOptions {
  return {
    method,
    url,
    handler: async () => ({}),
    ...(schema === undefined ? {} : { schema }),
  } as RouteOptions
}

/** Completes a copy of schema and returns the completed schema. */
function complete(
  schema: Schema,
  options: { protected: boolean; rateLimited?: boolean } = { protected: true },
): Schema {
  const r = route(structuredClone(schema))
  completeRouteSchema(r, options)
  return r.schema as Schema
}

function refused(schema: Schema | undefined, message: RegExp, method = 'POST'): void {
  assert.throws(
    () => completeRouteSchema(route(schema, method), { protected: true }),
    (err: unknown) => {
      assert.ok(err instanceof RouteSchemaError, `expected a RouteSchemaError, got ${String(err)}`)
      assert.match(err.message, message)
      return true
    },
  )
}

const statuses = (schema: Schema) => Object.keys(schema.response as Schema).sort()
const problemOf = (schema: Schema, status: number) =>
  (schema.response as Schema)[status] as { description: string; content: Schema }

test('[SRS-HTTP-450] route schema: a route without a summary is refused, naming the route', () => {
  refused(undefined, /^Route POST \/api\/v2\/things has no summary$/)
  refused({ response: Ok }, /has no summary/)
  refused({ summary: '', response: Ok }, /has no summary/)
})

test('[SRS-HTTP-450] [SRS-HTTP-002] route schema: an object that admits unknown properties anywhere in body, query or params is refused, naming the part and the place', () => {
  const base = { summary: 'Make a thing', response: Ok }
  refused(
    { ...base, body: { type: 'object', properties: { a: { type: 'string' } }, examples: [{}] } },
    /body schema at \/ must set additionalProperties: false/,
  )
  refused(
    {
      ...base,
      body: closed({ a: { type: 'object', properties: { b: { type: 'string' } } } }, { examples: [{}] }),
    },
    /body schema at \/a must set additionalProperties: false/,
  )
  refused(
    {
      ...base,
      body: closed(
        { a: closed({ b: { type: 'object', properties: {}, additionalProperties: true } }) },
        { examples: [{}] },
      ),
    },
    /body schema at \/a\/b must/,
  )
  refused(
    {
      ...base,
      body: closed(
        { list: { type: 'array', items: { type: 'object', properties: { x: { type: 'number' } } } } },
        { examples: [{}] },
      ),
    },
    /body schema at \/list must/,
  )
  refused(
    {
      ...base,
      body: { anyOf: [Body, { type: 'object', properties: { y: { type: 'string' } } }], examples: [{}] },
    },
    /body schema at \/ must/,
  )
  refused(
    { ...base, querystring: { type: 'object', properties: { q: { type: 'string' } } } },
    /querystring schema at \/ must/,
  )
  refused(
    { ...base, params: { type: 'object', properties: { id: { type: 'string' } } } },
    /params schema at \/ must/,
  )

  // Examples, defaults, consts and enums are data, not schemas; an object with no declared
  // properties is a free-form value the handler validates itself (a FHIR resource).
  const data = { type: 'object', properties: { free: { type: 'string' } } }
  assert.doesNotThrow(() =>
    complete({
      ...base,
      body: closed({ a: { type: 'string', default: data, enum: [data], const: data } }, { examples: [data] }),
    }),
  )
  assert.doesNotThrow(() =>
    complete({
      ...base,
      body: { type: 'object', required: ['resourceType'], examples: [{ resourceType: 'Patient' }] },
    }),
  )
  // Responses are not input: an open response object is allowed.
  assert.doesNotThrow(() =>
    complete({
      summary: 'Read',
      response: { 200: { type: 'object', properties: { a: { type: 'string' } } } },
    }),
  )
})

test('[SRS-HTTP-450] [SRS-DOC-002] route schema: a request body without an example, or a route with no 2xx response, is refused', () => {
  refused(
    { summary: 'Make a thing', body: closed({ a: { type: 'string' } }), response: Ok },
    /the request body schema has no examples/,
  )
  refused(
    { summary: 'Make a thing', body: closed({ a: { type: 'string' } }, { examples: [] }), response: Ok },
    /the request body schema has no examples/,
  )
  refused({ summary: 'Make a thing', body: Body }, /documents no 2xx response/)
  refused(
    {
      summary: 'Make a thing',
      body: Body,
      response: { 400: { description: 'Bad' }, 302: { description: 'Moved' } },
    },
    /documents no 2xx response/,
  )
})

test('[SRS-HTTP-450] [SRS-DOC-002] route schema: a protected, rate-limited route with a body gets 400, 401, 403, 413, 415, 429 and 500 as problem+json and the bearer requirement', () => {
  const schema = complete(
    { summary: 'Make a thing', body: Body, response: { 201: closed({ id: { type: 'string' } }) } },
    { protected: true, rateLimited: true },
  )
  assert.deepEqual(statuses(schema), ['201', '400', '401', '403', '413', '415', '429', '500'])
  for (const status of [400, 401, 403, 413, 415, 429, 500]) {
    const response = problemOf(schema, status)
    assert.deepEqual(
      response.content,
      { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${PROBLEM_SCHEMA_ID}#` } } },
      String(status),
    )
    assert.equal(typeof response.description, 'string')
    assert.ok(response.description.length > 0)
  }
  assert.match(problemOf(schema, 429).description, /Retry-After/)
  assert.match(problemOf(schema, 500).description, /request id/)
  assert.equal((schema.response as Record<string, { description?: string }>)['201']?.description, 'Success')
  assert.deepEqual(schema.security, [{ [BEARER_SCHEME]: [] }])
})

test('[SRS-HTTP-450] route schema: a public route without input gets only 500 (and 429 when limited), an explicit empty security requirement, and 204 is described as no content', () => {
  const schema = complete({ summary: 'Probe', response: { 204: { type: 'null' } } }, { protected: false })
  assert.deepEqual(statuses(schema), ['204', '500'])
  assert.deepEqual(schema.security, [])
  assert.equal(
    (schema.response as Record<string, { description?: string }>)['204']?.description,
    'No content',
  )
  assert.deepEqual(
    statuses(
      complete(
        { summary: 'Probe', response: { 204: { type: 'null' } } },
        { protected: false, rateLimited: true },
      ),
    ),
    ['204', '429', '500'],
  )
})

test('[SRS-HTTP-450] route schema: what a route documents itself is kept — its own error responses, descriptions and security', () => {
  const own400 = {
    description: 'The thing is malformed',
    content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
  }
  const schema = complete(
    {
      summary: 'Read a thing',
      params: closed({ id: { type: 'string' } }),
      security: [{ other: [] }],
      response: {
        200: { description: 'The thing', ...closed({}) },
        400: own400,
        404: { description: 'No such thing' },
      },
    },
    { protected: true },
  )
  assert.deepEqual((schema.response as Schema)[400], own400)
  assert.deepEqual((schema.response as Schema)[404], { description: 'No such thing' })
  assert.equal((schema.response as Record<string, { description?: string }>)['200']?.description, 'The thing')
  assert.deepEqual(schema.security, [{ other: [] }])
  assert.deepEqual(statuses(schema), ['200', '400', '401', '403', '404', '500'])
})

test('[SRS-HTTP-450] route schema: a hidden route is left exactly as declared', () => {
  const declared = { hide: true, body: { type: 'object', properties: { open: { type: 'string' } } } }
  const r = route(structuredClone(declared))
  completeRouteSchema(r, { protected: true, rateLimited: true })
  assert.deepEqual(r.schema, declared)
})

test('[SRS-HTTP-450] route schema: property — the statuses added follow from the input parts, protection and rate limit alone, and completing twice changes nothing', () => {
  const parts = {
    body: Body,
    querystring: closed({ q: { type: 'string' } }),
    params: closed({ id: { type: 'string' } }),
    headers: closed({ 'x-thing': { type: 'string' } }),
  }
  fc.assert(
    fc.property(
      fc.subarray(['body', 'querystring', 'params', 'headers'] as const),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(200, 201, 202, 204),
      (present, isProtected, rateLimited, success) => {
        const declared: Schema = {
          summary: 'Any route',
          response: { [success]: { type: 'object', properties: {}, additionalProperties: false } },
        }
        for (const p of present) declared[p] = parts[p]
        const options = { protected: isProtected, rateLimited }
        const once = complete(declared, options)
        const expected = new Set([String(success), '500'])
        if (present.length > 0) expected.add('400')
        if (present.includes('body')) for (const s of ['400', '413', '415']) expected.add(s)
        if (isProtected) for (const s of ['401', '403']) expected.add(s)
        if (rateLimited) expected.add('429')
        assert.deepEqual(statuses(once), [...expected].sort())
        assert.deepEqual(once.security, isProtected ? [{ [BEARER_SCHEME]: [] }] : [])

        const again = structuredClone(once)
        completeRouteSchema(route(again), options)
        assert.deepEqual(again, once)
      },
    ),
  )
})
