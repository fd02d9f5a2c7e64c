// Two API contracts side by side, and deprecation a client can read (RFC 9745, RFC 8594).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import { createTestApp, type TestApp } from '../support/app.ts'

const SINCE = '2026-11-01T00:00:00Z'
const SUNSET = '2027-06-30T00:00:00Z'

const readingsV1: FastifyPluginAsync = async (app) => {
  app.get(
    '/readings-demo',
    {
      config: {
        public: 'test fixture: a deprecated v1 contract',
        deprecation: { since: SINCE, sunset: SUNSET, successor: '/api/v2/readings-demo' },
      },
      schema: {
        summary: 'v1 demo contract',
        response: { 200: Type.Object({ contract: Type.Literal('v1') }) },
      },
    },
    async () => ({ contract: 'v1' as const }),
  )
}
const readingsV2: FastifyPluginAsync = async (app) => {
  app.get(
    '/readings-demo',
    {
      config: { public: 'test fixture: the current v2 contract' },
      schema: {
        summary: 'v2 demo contract',
        response: { 200: Type.Object({ contract: Type.Literal('v2'), items: Type.Array(Type.String()) }) },
      },
    },
    async () => ({ contract: 'v2' as const, items: [] }),
  )
}

describe('API versioning and deprecation', () => {
  let t: TestApp
  before(async () => {
    t = await createTestApp({ deps: { apiModules: { v1: [readingsV1], v2: [readingsV2] } } })
  })
  after(() => t.close())

  test('[SRS-API-001] /api/v1 and /api/v2 serve their own contracts side by side', async () => {
    const v1 = await t.app.inject({ method: 'GET', url: '/api/v1/readings-demo' })
    const v2 = await t.app.inject({ method: 'GET', url: '/api/v2/readings-demo' })
    assert.deepEqual(v1.json(), { contract: 'v1' })
    assert.deepEqual(v2.json(), { contract: 'v2', items: [] })
    const root1 = await t.app.inject({ method: 'GET', url: '/api/v1/' })
    const root2 = await t.app.inject({ method: 'GET', url: '/api/v2/' })
    assert.equal(root1.json().version, 'v1')
    assert.equal(root1.json().status, 'supported')
    assert.equal(root2.json().version, 'v2')
    assert.equal(root2.json().status, 'current')
  })

  test('[SRS-API-002] a deprecated route answers with Deprecation, Sunset and a successor Link', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/readings-demo' })
    assert.equal(res.statusCode, 200)
    // RFC 9745: Deprecation is a structured-field Date, "@" + epoch seconds.
    assert.equal(res.headers.deprecation, `@${Date.parse(SINCE) / 1000}`)
    // RFC 8594: Sunset is an HTTP-date.
    assert.equal(res.headers.sunset, 'Wed, 30 Jun 2027 00:00:00 GMT')
    const link = String(res.headers.link)
    assert.match(link, /<\/api\/v2\/readings-demo>; rel="successor-version"/)
    assert.match(link, /\/docs>; rel="deprecation"; type="text\/html"/)
  })

  test('[SRS-API-002] the current route carries no deprecation headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v2/readings-demo' })
    assert.equal(res.headers.deprecation, undefined)
    assert.equal(res.headers.sunset, undefined)
  })

  test('[SRS-API-002] the deprecated operation is deprecated: true in OpenAPI, the current one is not', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    assert.equal(doc.paths['/api/v1/readings-demo'].get.deprecated, true)
    assert.match(doc.paths['/api/v1/readings-demo'].get.description, /sunset 2027-06-30/)
    assert.equal(doc.paths['/api/v2/readings-demo'].get.deprecated, undefined)
  })

  test('[SRS-API-002] a sunset before the deprecation date is refused at start-up', async () => {
    const bad: FastifyPluginAsync = async (app) => {
      app.get(
        '/bad',
        {
          config: {
            public: 'test fixture: inconsistent dates',
            deprecation: { since: SUNSET, sunset: SINCE, successor: '/x' },
          },
          schema: { summary: 'bad', response: { 200: Type.Object({}) } },
        },
        async () => ({}),
      )
    }
    await assert.rejects(
      createTestApp({ deps: { db: t.db, apiModules: { v1: [bad] } } }),
      /sunset must be after/,
    )
  })
})
