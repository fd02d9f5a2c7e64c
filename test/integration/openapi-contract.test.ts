/* eslint-disable @typescript-eslint/no-explicit-any -- the OpenAPI document and response bodies are walked loosely */
// The OpenAPI contract, checked against the running server (issue 13, item 3): real HTTP requests
// of every kind — 2xx, 400, 401, 403, 404, 409, 412, 422, 429 — on the API, the FHIR server and
// discovery, each response checked against `/openapi.json` as the server publishes it: the
// operation exists, the status is one it declares, the content type is one declared for that
// status, and the body validates against the declared schema (JSON Schema 2020-12, as OpenAPI 3.1
// says). FHIR bodies are checked against the R4 JSON schema too. Where the document and the
// server disagreed, the document was fixed (ADR-0026).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { assertValidFhir } from '../support/fhir.ts'
import { freePort } from '../support/ports.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

type Json = Record<string, any>

interface Exchange {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly type: string
  readonly body: unknown
}

/** A listening app and a way to send it real HTTP requests. */
async function listening(env: Record<string, string | undefined> = {}) {
  const port = await freePort()
  const publicUrl = `http://127.0.0.1:${port}`
  const t = await createTestApp({ env: { PUBLIC_URL: publicUrl, ...env } })
  await t.app.listen({ port, host: '127.0.0.1' })
  const send = async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; type?: string; headers?: Record<string, string> } = {},
  ): Promise<Exchange> => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token) headers.authorization = `Bearer ${options.token}`
    if (options.body !== undefined) headers['content-type'] = options.type ?? 'application/json'
    const res = await fetch(`${publicUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    })
    const type = res.headers.get('content-type') ?? ''
    const text = await res.text()
    return {
      method,
      path,
      status: res.status,
      type,
      body: /json/.test(type) && text ? JSON.parse(text) : text,
    }
  }
  return { t, publicUrl, send }
}

/** Checks one exchange against the document; returns what disagrees (empty when it conforms). */
function checker(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true })
  // ajv-formats is CommonJS: its function is the default export's default.
  const addFormats =
    (addFormatsModule as unknown as { default: (a: Ajv2020) => Ajv2020 }).default ?? addFormatsModule
  addFormats(ajv)
  ajv.addSchema({ $id: 'openapi:components', components: doc.components }, 'openapi:components')
  const templates = Object.keys(doc.paths as Json).map((template) => ({
    template,
    re: new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}|\{[^}]+\}/g, '[^/]+')}$`,
    ),
    literal: template.replace(/\{[^}]+\}/g, '').length,
  }))
  const operationOf = (method: string, path: string) => {
    const bare = path.split('?')[0] as string
    const match = templates
      .filter((t) => t.re.test(bare) && doc.paths[t.template][method.toLowerCase()])
      .sort((a, b) => b.literal - a.literal)[0]
    return match
      ? { template: match.template, op: doc.paths[match.template][method.toLowerCase()] as Json }
      : undefined
  }
  return (x: Exchange): string[] => {
    const where = `${x.method} ${x.path} → ${x.status}`
    const found = operationOf(x.method, x.path)
    if (!found) return [`${where}: no operation in the document`]
    const responses = found.op.responses as Json
    const declared = responses[String(x.status)] ?? responses[`${String(x.status)[0]}XX`] ?? responses.default
    if (!declared)
      return [
        `${where}: status not declared for ${found.template} (declares ${Object.keys(responses).join(', ')})`,
      ]
    const content = (declared.content ?? {}) as Json
    const mediaTypes = Object.keys(content)
    if (mediaTypes.length === 0)
      return x.status === 204 || x.body === ''
        ? []
        : [`${where}: the document declares no body, the server sent ${x.type}`]
    const media = x.type.split(';')[0]?.trim() ?? ''
    const entry = content[media]
    if (!entry) return [`${where}: content type ${media} not declared (declares ${mediaTypes.join(', ')})`]
    if (!entry.schema) return []
    const schema = JSON.parse(
      JSON.stringify(entry.schema).replace(/"#\/components\//g, '"openapi:components#/components/'),
    )
    const validate = ajv.compile(schema)
    if (validate(x.body)) return []
    return [
      `${where}: body does not match the declared schema: ${ajv.errorsText(validate.errors?.slice(0, 3))}`,
    ]
  }
}

describe('OpenAPI contract: real requests of every kind against the served document', () => {
  let s: Awaited<ReturnType<typeof listening>>
  let t: TestApp
  let w: World
  let doc: Json
  let check: (x: Exchange) => string[]
  const seen = new Map<number, string[]>()

  before(async () => {
    s = await listening()
    t = s.t
    w = await buildWorld(t.app)
    const served = await s.send('GET', '/openapi.json')
    assert.equal(served.status, 200, `${served.type} ${String(served.body).slice(0, 200)}`)
    doc = served.body as Json
    check = checker(doc)
  })
  after(() => t?.close())

  /** Sends, checks against the document, records the status; returns the exchange. */
  async function exchange(
    method: string,
    path: string,
    options: Parameters<Awaited<ReturnType<typeof listening>>['send']>[2] = {},
  ): Promise<Exchange> {
    const x = await s.send(method, path, options)
    assert.deepEqual(check(x), [], `${method} ${path}`)
    if (/^\/fhir\/R4\//.test(path) && !path.includes('.well-known') && /fhir\+json/.test(x.type))
      assertValidFhir(x.body, `${method} ${path}`)
    seen.set(x.status, [...(seen.get(x.status) ?? []), `${method} ${path}`])
    return x
  }

  async function success(...args: Parameters<typeof exchange>): Promise<Exchange> {
    const x = await exchange(...args)
    assert.ok(x.status >= 200 && x.status < 300, `${args[0]} ${args[1]} → ${x.status}`)
    return x
  }

  const fhirToken = (user: keyof World['users'], scope: string, patient?: string) =>
    userToken(t.app, t.config.publicUrl, w, w.users[user], scope, {
      resource: 'fhir',
      ...(patient ? { patient } : {}),
    })

  test('[SRS-DOC-524] 2xx answers of the API, the FHIR server and discovery match the document', async () => {
    const patient = await userToken(t.app, t.config.publicUrl, w, w.users.patient)
    const device = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    const admin = await userToken(t.app, t.config.publicUrl, w, w.users.admin)
    const clinicianFhir = await fhirToken('clinicianTeam', 'user/*.rs')
    await success('GET', '/health/live')
    await success('GET', '/api/v2/')
    await success('GET', '/api/v2/me', { token: patient })
    const at = new Date(Date.now() - 60_000).toISOString()
    assert.equal(
      (
        await exchange('POST', '/api/v2/device-data', {
          token: device,
          body: {
            readings: [
              {
                code: '2339-0',
                value: 101,
                unit: 'mg/dL',
                effectiveDateTime: at,
                id: `contract-${randomUUID()}`,
              },
            ],
          },
        })
      ).status,
      200,
    )
    assert.equal(
      (await exchange('GET', `/api/v2/device-data?patient=${w.patients.patient}`, { token: patient })).status,
      200,
    )
    await success('GET', '/api/v2/organisations', { token: admin })
    assert.equal(
      (
        await exchange('POST', '/api/v2/organisations', {
          token: admin,
          body: { name: `Contract clinic ${w.suffix}` },
        })
      ).status,
      201,
    )
    await success('GET', '/api/v2/me/consents', { token: patient })
    await success('GET', '/.well-known/smart-configuration')
    await success('GET', '/fhir/R4/.well-known/smart-configuration')
    await success('GET', '/fhir/R4/metadata')
    await success('GET', `/fhir/R4/Patient/${w.patients.patient}`, { token: clinicianFhir })
    assert.equal(
      (
        await exchange('GET', `/fhir/R4/Observation?patient=${w.patients.patient}&_count=1`, {
          token: clinicianFhir,
        })
      ).status,
      200,
    )
    assert.equal(
      (await exchange('GET', `/fhir/R4/Practitioner/${w.users.clinicianTeam.id}`, { token: clinicianFhir }))
        .status,
      200,
    )
    await success('GET', `/fhir/R4/DiagnosticReport?patient=${w.patients.patient}`, { token: clinicianFhir })
  })

  test('[SRS-DOC-524] 400, 401, 403 and 404 answers match the document, on the API (problem+json) and FHIR (OperationOutcome)', async () => {
    const device = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.devices.bound.clientId,
      scope: 'device-data:write',
    })
    const patient = await userToken(t.app, t.config.publicUrl, w, w.users.patient)
    const clinicianFhir = await fhirToken('clinicianTeam', 'user/*.rs')
    // 400: a body or query the schema refuses.
    assert.equal(
      (await exchange('POST', '/api/v2/device-data', { token: device, body: { readings: 'none' } })).status,
      400,
    )
    assert.equal(
      (
        await exchange('POST', '/api/v2/organisations', {
          token: await userToken(t.app, t.config.publicUrl, w, w.users.admin),
          body: '{"name":',
          type: 'application/json',
        })
      ).status,
      400,
    )
    assert.equal(
      (
        await exchange('GET', `/fhir/R4/Observation?patient=${w.patients.patient}&date=yesterday`, {
          token: clinicianFhir,
        })
      ).status,
      400,
    )
    assert.equal(
      (
        await exchange('GET', '/fhir/R4/Observation?colour=blue', {
          token: clinicianFhir,
          headers: { prefer: 'handling=strict' },
        })
      ).status,
      400,
    )
    // 401: no token, or a token that is not one.
    assert.equal((await exchange('GET', '/api/v2/me')).status, 401)
    assert.equal((await exchange('GET', '/api/v2/patients', { token: 'not-a-token' })).status, 401)
    assert.equal((await exchange('GET', `/fhir/R4/Patient/${w.patients.patient}`)).status, 401)
    // 403: a token without the scope (INSUFFICIENT_SCOPE), or a role the policy refuses.
    const reading = {
      code: '2339-0',
      value: 99,
      unit: 'mg/dL',
      effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
      id: `contract-${randomUUID()}`,
    }
    const insufficient = await exchange('POST', '/api/v2/device-data', {
      token: patient,
      body: { readings: [reading] },
    })
    assert.equal(insufficient.status, 403)
    assert.equal(
      (insufficient.body as Json).code,
      'FORBIDDEN',
      'a patient does not send readings: the policy refuses',
    )
    const narrow = await userToken(t.app, t.config.publicUrl, w, w.users.patient, 'openid account:read')
    const noScope = await exchange('GET', `/api/v2/device-data?patient=${w.patients.patient}`, {
      token: narrow,
    })
    assert.equal(noScope.status, 403)
    assert.equal((noScope.body as Json).code, 'INSUFFICIENT_SCOPE')
    assert.equal((await exchange('GET', '/api/v2/audit/entries', { token: patient })).status, 403)
    const observationsOnly = await fhirToken('clinicianTeam', 'user/Observation.rs')
    assert.equal(
      (await exchange('GET', `/fhir/R4/Patient/${w.patients.patient}`, { token: observationsOnly })).status,
      403,
    )
    // 404: unknown ids, concealed records, no such route.
    assert.equal((await exchange('GET', `/api/v2/patients/${randomUUID()}`, { token: patient })).status, 404)
    assert.equal(
      (await exchange('GET', `/fhir/R4/Patient/${randomUUID()}`, { token: clinicianFhir })).status,
      404,
    )
    assert.equal(
      (await exchange('GET', `/fhir/R4/Observation/${randomUUID()}`, { token: clinicianFhir })).status,
      404,
    )
    assert.equal(
      (await exchange('GET', `/fhir/R4/Patient/${w.patients.canary}`, { token: clinicianFhir })).status,
      404,
    )
  })

  test('[SRS-DOC-524] 409, 412 and 422 answers match the document', async () => {
    const admin = await userToken(t.app, t.config.publicUrl, w, w.users.admin)
    // 409: an organisation whose name is taken.
    const name = `Contract duplicate ${w.suffix}`
    assert.equal(
      (await exchange('POST', '/api/v2/organisations', { token: admin, body: { name } })).status,
      201,
    )
    assert.equal(
      (await exchange('POST', '/api/v2/organisations', { token: admin, body: { name } })).status,
      409,
    )
    // 412: a FHIR update against a version that is not the current one (If-Match).
    const clinician = await fhirToken('clinicianTeam', 'user/Patient.cu user/Patient.rs')
    const current = (await exchange('GET', `/fhir/R4/Patient/${w.patients.patient}`, { token: clinician }))
      .body as Json
    const { meta: _meta, ...edited } = current
    assert.equal(
      (
        await exchange('PUT', `/fhir/R4/Patient/${w.patients.patient}`, {
          token: clinician,
          body: edited,
          type: 'application/fhir+json',
          headers: { 'if-match': 'W/"999"' },
        })
      ).status,
      412,
    )
    // 422: a FHIR update that tries to move the patient to another organisation; a SMART launch for a client that is no SMART app.
    assert.equal(
      (
        await exchange('PUT', `/fhir/R4/Patient/${w.patients.patient}`, {
          token: clinician,
          body: { ...edited, managingOrganization: { reference: `Organization/${w.orgB}` } },
          type: 'application/fhir+json',
        })
      ).status,
      422,
    )
    const launcher = await userToken(
      t.app,
      t.config.publicUrl,
      w,
      w.users.clinicianTeam,
      'openid patients:read',
    )
    assert.equal(
      (
        await exchange('POST', '/api/v2/smart/launch', {
          token: launcher,
          body: { client_id: w.services.orgA.clientId, patient: w.patients.patient },
        })
      ).status,
      422,
    )
  })

  test('[SRS-DOC-524] 429 answers match the document, on the API and on FHIR', async () => {
    // Its own server with a limit of 3 a minute, counted in-process (no shared Redis counter).
    const limited = await listening({ RATE_LIMIT_PER_MINUTE: '3', REDIS_URL: undefined })
    try {
      const limitedDoc = (await limited.send('GET', '/openapi.json')).body as Json
      const checkLimited = checker(limitedDoc)
      // The document fetch counted as the first request of the minute: two more pass, then 429.
      const sent: Exchange[] = []
      for (let i = 0; i < 3; i++) sent.push(await limited.send('GET', '/api/v2/me'))
      sent.push(await limited.send('GET', `/fhir/R4/Patient/${randomUUID()}`))
      assert.deepEqual(
        sent.map((x) => x.status),
        [401, 401, 429, 429],
      )
      const over = sent.filter((x) => x.status === 429)
      for (const x of sent) assert.deepEqual(checkLimited(x), [])
      for (const x of over) seen.set(429, [...(seen.get(429) ?? []), `${x.method} ${x.path}`])
      assertValidFhir(over[1]?.body)
    } finally {
      await limited.t.close()
    }
  })

  test('[SRS-DOC-524] every kind of answer was replayed: 2xx, 400, 401, 403, 404, 409, 412, 422, 429', () => {
    for (const status of [200, 201, 400, 401, 403, 404, 409, 412, 422, 429])
      assert.ok(seen.has(status), `no ${status} was checked`)
  })
})
