// An OpenAPI document tools can use (issue 13): a unique operationId on every operation, an oauth2
// security scheme (authorization code with PKCE, client credentials) with every scope described,
// FHIR operations as application/fhir+json with OperationOutcome for every error status (404
// included), an introduction giving each kind of client its order of calls, and `redocly lint`
// (the real @redocly/cli) finding no error.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

describe('OpenAPI document for tools', () => {
  let t: TestApp
  let doc: Json
  before(async () => {
    t = await createTestApp()
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
  })
  after(() => t?.close())

  const operations = () =>
    Object.entries(doc.paths as Json).flatMap(([p, item]) =>
      METHODS.filter((m) => (item as Json)[m]).map((m) => ({
        where: `${m.toUpperCase()} ${p}`,
        path: p,
        op: (item as Json)[m] as Json,
      })),
    )

  test('[SRS-DOC-313] every operation has a unique operationId', () => {
    const ids = new Map<string, string>()
    for (const { where, op } of operations()) {
      assert.equal(typeof op.operationId, 'string', `${where} has no operationId`)
      assert.match(op.operationId, /^[a-z][A-Za-z0-9]*$/, where)
      assert.ok(!ids.has(op.operationId), `${where} repeats ${op.operationId} of ${ids.get(op.operationId)}`)
      ids.set(op.operationId, where)
    }
    assert.ok(ids.size > 50)
  })

  test('[SRS-DOC-314] [SRS-AUTHZ-623] an oauth2 scheme with authorization code and client credentials, every scope described; protected operations name the scopes that carry them', () => {
    const oauth = doc.components.securitySchemes.oauth2
    assert.equal(oauth.type, 'oauth2')
    assert.match(oauth.flows.authorizationCode.authorizationUrl, /\/oauth\/authorize$/)
    assert.match(oauth.flows.authorizationCode.tokenUrl, /\/oauth\/token$/)
    assert.match(oauth.flows.clientCredentials.tokenUrl, /\/oauth\/token$/)
    const described = oauth.flows.authorizationCode.scopes as Record<string, string>
    for (const s of [
      'device-data:write',
      'audit:read',
      'patient/*.rs',
      'system/*.rs',
      'launch',
      'launch/patient',
      'fhirUser',
      'offline_access',
      'online_access',
    ])
      assert.ok(described[s], `scope ${s} is described`)
    const ingest = doc.paths['/api/v2/device-data'].post
    assert.deepEqual(ingest.security, [{ bearerAuth: [] }, { oauth2: ['device-data:write'] }])
    // Each FHIR operation names its own SMART permission (ADR-0032): a search `s`, a read `r`.
    const obs = doc.paths['/fhir/R4/Observation'].get
    // Any one of them: one requirement object per scope (inside one object, all would be required).
    const alternatives = (op: Json) =>
      op.security.filter((r: Json) => r.oauth2).map((r: Json) => r.oauth2 as string[])
    assert.deepEqual(alternatives(obs), [
      ['patient/Observation.s'],
      ['user/Observation.s'],
      ['system/Observation.s'],
    ])
    const obsRead = doc.paths['/fhir/R4/Observation/{id}'].get
    assert.deepEqual(alternatives(obsRead), [
      ['patient/Observation.r'],
      ['user/Observation.r'],
      ['system/Observation.r'],
    ])
    for (const { where, op } of operations())
      for (const req of op.security ?? []) {
        const scopes = ((req as Json).oauth2 ?? []) as string[]
        assert.ok(scopes.length <= 1, `${where}: one scope per oauth2 requirement (alternatives)`)
        for (const scope of scopes) assert.ok(described[scope], `${where}: scope ${scope} is described`)
      }
  })

  test('[SRS-DOC-315] FHIR operations answer application/fhir+json, with an OperationOutcome for every error status, 404 included', () => {
    const fhir = operations().filter(
      (o) => o.path.startsWith('/fhir/R4') && !o.path.includes('/.well-known/'),
    )
    assert.ok(fhir.length >= 10)
    for (const { where, op } of fhir) {
      assert.ok(op.responses['404'], `${where} documents 404`)
      for (const [status, response] of Object.entries(op.responses as Json)) {
        const types = Object.keys((response as Json).content ?? {})
        if (/^[45]/.test(status)) assert.deepEqual(types, ['application/fhir+json'], `${where} ${status}`)
        if (/^[45]/.test(status))
          assert.equal(
            (response as Json).content['application/fhir+json'].schema.$ref,
            '#/components/schemas/OperationOutcome',
          )
        if (/^2/.test(status) && types.length > 0)
          assert.deepEqual(types, ['application/fhir+json'], `${where} ${status}`)
      }
    }
    assert.equal(doc.components.schemas.OperationOutcome.properties.resourceType.const, 'OperationOutcome')
  })

  test('[SRS-DOC-316] the introduction gives each kind of client its order of calls and scopes', () => {
    const intro = String(doc.info.description)
    for (const needle of [
      'A device',
      "A patient's app",
      'A SMART app',
      'A backend service',
      'client_credentials',
      'PKCE',
      'refresh_token',
      '/fhir/R4/.well-known/smart-configuration',
      'system/*.rs',
      'INSUFFICIENT_SCOPE',
    ]) {
      assert.ok(intro.includes(needle), `the introduction mentions ${needle}`)
    }
  })

  test('[SRS-DOC-317] redocly lint (the real CLI, recommended rules) reports no error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-openapi-'))
    try {
      const file = path.join(dir, 'openapi.json')
      writeFileSync(file, JSON.stringify(doc))
      const bin = path.join(process.cwd(), 'node_modules', '.bin', 'redocly')
      const res = spawnSync(
        bin,
        ['lint', file, '--format', 'json', '--config', path.join(process.cwd(), 'redocly.yaml')],
        {
          encoding: 'utf8',
          timeout: 120_000,
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        },
      )
      const report = JSON.parse(res.stdout || '{}') as {
        totals?: { errors: number }
        problems?: Array<{
          ruleId: string
          severity: string
          message: string
          location?: Array<{ pointer?: string }>
        }>
      }
      const errors = (report.problems ?? [])
        .filter((p) => p.severity === 'error')
        .map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? ''}`)
      assert.deepEqual(errors.slice(0, 20), [], `redocly: ${errors.length} errors`)
      assert.equal(report.totals?.errors, 0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
