// Default deny (ADR-0002): a route that declares no access cannot be registered, and a
// policy-guarded route turns away anonymous callers, bad tokens and denied decisions.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { Principal } from '../../src/security/authn/index.ts'
import {
  assertRouteAccess,
  RouteAccessError,
  type PolicyDecisionPoint,
} from '../../src/security/policy/index.ts'
import { createTestApp, openTestDatabase, type TestApp } from '../support/app.ts'
import { testConfig } from '../support/config.ts'
import { fixtureRoutes } from '../support/fixture-routes.ts'

const route =
  (config: Record<string, unknown>): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/unguarded',
      { config, schema: { summary: 'x', response: { 200: Type.Object({}) } } },
      async () => ({}),
    )
  }

describe('default deny at registration', () => {
  const config = testConfig()
  let db: Awaited<ReturnType<typeof openTestDatabase>>
  before(async () => {
    db = await openTestDatabase(config)
  })
  after(() => db.close())

  test('[SRS-AUTHZ-001] a route registered without a policy makes start-up fail', async () => {
    await assert.rejects(createTestApp({ deps: { db }, routes: [route({})] }), (err: Error) => {
      assert.ok(err instanceof RouteAccessError, err.message)
      assert.match(err.message, /GET \/unguarded declares no access policy/)
      return true
    })
  })

  test('[SRS-AUTHZ-001] a public route without a reason, or with both a policy and a public marker, fails start-up', async () => {
    await assert.rejects(createTestApp({ deps: { db }, routes: [route({ public: '' })] }), RouteAccessError)
    await assert.rejects(
      createTestApp({ deps: { db }, routes: [route({ public: 'ok' })] }),
      /without a reason/,
    )
    await assert.rejects(
      createTestApp({ deps: { db }, routes: [route({ public: 'a long enough reason', policy: 'x.read' })] }),
      /both a policy and a public/,
    )
    await assert.rejects(
      createTestApp({ deps: { db }, routes: [route({ policy: 'Read Everything' })] }),
      /invalid policy action/,
    )
  })

  test('[SRS-AUTHZ-001] assertRouteAccess accepts a declared policy or a reasoned public marker', () => {
    assert.equal(
      assertRouteAccess({ method: 'GET', url: '/a', config: { policy: 'device-data.read' } }),
      'policy',
    )
    assert.equal(
      assertRouteAccess({ method: 'GET', url: '/a', config: { public: 'discovery document for clients' } }),
      'public',
    )
    assert.throws(() => assertRouteAccess({ method: 'GET', url: '/a', config: undefined }), RouteAccessError)
  })
})

describe('default deny at request time', () => {
  const alice: Principal = {
    kind: 'user',
    id: 'user-alice',
    clientId: 'app',
    scopes: ['openid'],
    roles: ['patient'],
  }
  const decisions: string[] = []
  const pdp: PolicyDecisionPoint = {
    decide: (principal, action) => {
      decisions.push(`${principal.id}:${action}`)
      return principal.roles.includes('admin')
        ? { effect: 'permit', rule: 'test-admin' }
        : { effect: 'deny', rule: 'test-deny' }
    },
  }
  let t: TestApp
  before(async () => {
    t = await createTestApp({
      routes: [fixtureRoutes],
      deps: {
        pdp,
        // A stand-in authenticator for two fixed test tokens; identity (issue 3) supplies the real one.
        authenticate: async (req) => {
          const h = req.headers.authorization
          if (h === undefined) return null
          if (h === 'Bearer alice') return alice
          if (h === 'Bearer admin') return { ...alice, id: 'user-admin', roles: ['admin'] }
          const { AppError } = await import('../../src/platform/http/errors.ts')
          throw new AppError('INVALID_TOKEN', undefined, {
            headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
          })
        },
      },
    })
  })
  after(() => t.close())

  test('[SRS-AUTHZ-002] an anonymous call to a policy-guarded route answers 401 with WWW-Authenticate, before the PDP runs', async () => {
    decisions.length = 0
    const res = await t.app.inject({ method: 'GET', url: '/test/protected' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="vigil"/)
    assert.equal(res.json().code, 'UNAUTHENTICATED')
    assert.deepEqual(decisions, [])
  })

  test('[SRS-AUTHZ-002] a bad token answers 401 invalid_token', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/test/protected',
      headers: { authorization: 'Bearer forged' },
    })
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'INVALID_TOKEN')
    assert.match(String(res.headers['www-authenticate']), /invalid_token/)
  })

  test('[SRS-AUTHZ-002] a denied decision answers 403; a permitted one reaches the handler', async () => {
    decisions.length = 0
    const denied = await t.app.inject({
      method: 'GET',
      url: '/test/protected',
      headers: { authorization: 'Bearer alice' },
    })
    assert.equal(denied.statusCode, 403)
    assert.equal(denied.json().code, 'FORBIDDEN')
    const permitted = await t.app.inject({
      method: 'GET',
      url: '/test/protected',
      headers: { authorization: 'Bearer admin' },
    })
    assert.equal(permitted.statusCode, 200)
    assert.deepEqual(permitted.json(), { ok: true })
    assert.deepEqual(decisions, ['user-alice:fixture.read', 'user-admin:fixture.read'])
  })
})

describe('default deny with the foundation defaults', () => {
  test('[SRS-AUTHZ-002] with no identity provider yet, every bearer token is refused and the default PDP denies', async () => {
    const t = await createTestApp({ routes: [fixtureRoutes] })
    try {
      const anon = await t.app.inject({ method: 'GET', url: '/test/protected' })
      assert.equal(anon.statusCode, 401)
      const token = await t.app.inject({
        method: 'GET',
        url: '/test/protected',
        headers: { authorization: 'Bearer anything' },
      })
      assert.equal(token.statusCode, 401)
      assert.equal(token.json().code, 'INVALID_TOKEN')
    } finally {
      await t.close()
    }
  })
})
