// The OpenAPI walk (issue 2, item 7): every operation has a summary, every status it can return,
// its security requirement, and a valid example for each request body.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { createTestApp, type TestApp } from '../support/app.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

export function walkOpenApi(doc: Json): { operations: number; problems: string[] } {
  const problems: string[] = []
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {}))
    ajv.addSchema(schema as object, `#/components/schemas/${name}`)
  const schemes = Object.keys(doc.components?.securitySchemes ?? {})
  let operations = 0

  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Json | undefined
      if (!op) continue
      operations++
      const where = `${method.toUpperCase()} ${path}`
      const statuses = Object.keys(op.responses ?? {})
      if (typeof op.summary !== 'string' || op.summary.length < 5) problems.push(`${where}: no summary`)
      if (!Array.isArray(op.security)) problems.push(`${where}: no explicit security requirement`)
      for (const req of op.security ?? [])
        for (const s of Object.keys(req))
          if (!schemes.includes(s)) problems.push(`${where}: unknown security scheme ${s}`)
      const isProtected =
        Array.isArray(op.security) &&
        op.security.length > 0 &&
        !op.security.some((r: Json) => Object.keys(r).length === 0)
      const needs = ['500']
      if (!statuses.some((s) => /^2\d\d$/.test(s))) problems.push(`${where}: no 2xx response`)
      if (op.requestBody || (op.parameters ?? []).length > 0) needs.push('400')
      if (op.requestBody) needs.push('413', '415')
      if (isProtected) needs.push('401', '403')
      for (const s of needs) if (!statuses.includes(s)) problems.push(`${where}: status ${s} not documented`)
      for (const [s, r] of Object.entries(op.responses ?? {}))
        if (typeof (r as Json).description !== 'string')
          problems.push(`${where}: response ${s} has no description`)
      // Errors are problem+json (OperationOutcome on FHIR); an HTML page answers its form errors as HTML.
      const isPage = statuses.some(
        (x) => /^2\d\d$/.test(x) && (op.responses[x] as Json).content?.['text/html'],
      )
      for (const s of statuses.filter((x) => /^[45]\d\d$/.test(x))) {
        const content = (op.responses[s] as Json).content ?? {}
        if (
          !content['application/problem+json'] &&
          !content['application/fhir+json'] &&
          !(isPage && content['text/html'])
        )
          problems.push(`${where}: error ${s} is not problem+json`)
      }
      for (const [mediaType, media] of Object.entries((op.requestBody?.content ?? {}) as Json)) {
        const examples = [
          ...(media.example !== undefined ? [media.example] : []),
          ...Object.values((media.examples ?? {}) as Json).map((e: Json) => e.value),
        ]
        if (examples.length === 0) problems.push(`${where}: request body ${mediaType} has no example`)
        const validate = ajv.compile(media.schema)
        for (const ex of examples)
          if (!validate(ex))
            problems.push(`${where}: example does not validate: ${ajv.errorsText(validate.errors)}`)
      }
    }
  }
  return { operations, problems }
}

describe('OpenAPI document', () => {
  let t: TestApp
  let doc: Json
  before(async () => {
    t = await createTestApp()
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
  })
  after(() => t.close())

  test('[SRS-DOC-001] /openapi.json is an OpenAPI 3.1 document generated from the routes', () => {
    assert.equal(doc.openapi, '3.1.0')
    assert.equal(doc.info.title, 'Vigil API')
    for (const p of [
      '/health/live',
      '/health/ready',
      '/metrics',
      '/openapi.json',
      '/docs',
      '/api/v1/',
      '/api/v2/',
    ])
      assert.ok(doc.paths[p], `${p} documented`)
    assert.equal(doc.paths['/docs/scalar.js'], undefined, 'static assets are hidden')
    assert.ok(doc.components.schemas.Problem, 'the shared Problem schema is a named component')
  })

  test('[SRS-DOC-002] every operation passes the walk: summary, statuses, security, valid body examples', () => {
    const { operations, problems } = walkOpenApi(doc)
    assert.ok(operations >= 7, `walked ${operations} operations`)
    assert.deepEqual(problems, [])
  })

  test('[SRS-DOC-002] the walk checks request bodies and protected operations too (fixture routes)', async () => {
    const f = await createTestApp({ deps: { db: t.db }, routes: [fixtureRoutes] })
    try {
      const fdoc = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json()
      const { problems } = walkOpenApi(fdoc)
      assert.deepEqual(problems, [])
      const echo = fdoc.paths['/test/echo'].post
      assert.deepEqual(echo.requestBody.content['application/json'].example, { name: 'reading', count: 3 })
      assert.deepEqual(Object.keys(echo.responses).sort(), ['200', '400', '413', '415', '500'])
      const guarded = fdoc.paths['/test/protected'].get
      assert.deepEqual(guarded.security, [{ bearerAuth: [] }])
      assert.ok(guarded.responses['401'] && guarded.responses['403'])

      // The walk itself fails on a broken document: an invalid example and a missing status.
      echo.requestBody.content['application/json'].example = { name: 'reading', count: -1, extra: true }
      delete guarded.responses['401']
      const broken = walkOpenApi(fdoc).problems
      assert.ok(
        broken.some((p) => p.startsWith('POST /test/echo: example does not validate')),
        broken.join('\n'),
      )
      assert.ok(broken.includes('GET /test/protected: status 401 not documented'), broken.join('\n'))
    } finally {
      await f.close()
    }
  })

  test('[SRS-DOC-002] a route whose body has no example, or whose body accepts unknown fields, fails start-up', async () => {
    const { Type } = await import('typebox')
    const noExample = async (app: TestApp['app']) => {
      app.post(
        '/x',
        {
          config: { public: 'fixture without example' },
          schema: {
            summary: 'no example',
            body: Type.Object({ a: Type.String() }, { additionalProperties: false }),
            response: { 200: Type.Object({}) },
          },
        },
        async () => ({}),
      )
    }
    const open = async (app: TestApp['app']) => {
      app.post(
        '/y',
        {
          config: { public: 'fixture with open body' },
          schema: {
            summary: 'open body',
            body: Type.Object({ a: Type.String() }, { examples: [{ a: 'x' }] }),
            response: { 200: Type.Object({}) },
          },
        },
        async () => ({}),
      )
    }
    const noSummary = async (app: TestApp['app']) => {
      app.get(
        '/z',
        { config: { public: 'fixture without summary' }, schema: { response: { 200: Type.Object({}) } } },
        async () => ({}),
      )
    }
    await assert.rejects(createTestApp({ deps: { db: t.db }, routes: [noExample] }), /has no examples/)
    await assert.rejects(createTestApp({ deps: { db: t.db }, routes: [open] }), /additionalProperties: false/)
    await assert.rejects(createTestApp({ deps: { db: t.db }, routes: [noSummary] }), /has no summary/)
  })
})
