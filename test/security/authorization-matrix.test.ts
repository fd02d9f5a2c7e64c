// The authorization matrix (issue 4): every operation of the OpenAPI document × every kind of
// principal, with the status each must get. The table below is the reviewed statement of who may
// do what; the test fails when an operation has no row (a route added without one), when a row
// names an operation that no longer exists, or when any cell differs. It also checks, over every
// response of the run, that the canary patient's unique values never appear (they belong to no
// principal of the matrix), and that every request left exactly one audit entry (issue 7).

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { assertValidFhir } from '../support/fhir.ts'
import { ALL_API_SCOPES, buildWorld, mintToken, userToken, type World } from '../support/world.ts'
import {
  MATRIX,
  PRINCIPALS,
  type Cell,
  type MatrixContext,
  type PrincipalName,
  type Row,
} from './authorization-matrix.rows.ts'

interface Operation {
  readonly key: string
  readonly method: string
  readonly path: string
  readonly secured: boolean
  readonly example: unknown
  readonly contentType: string | undefined
}

function operationsOf(doc: {
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown[]
        requestBody?: {
          content?: Record<
            string,
            {
              schema?: { examples?: unknown[] }
              example?: unknown
              examples?: Record<string, { value: unknown }>
            }
          >
        }
      }
    >
  >
}): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? []
      const example =
        media?.example ?? media?.schema?.examples?.[0] ?? Object.values(media?.examples ?? {})[0]?.value
      ops.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        secured:
          Array.isArray(op.security) &&
          op.security.some((s) => Object.keys(s as object).includes('bearerAuth')),
        example,
        contentType,
      })
    }
  }
  return ops
}

describe('the authorization matrix', () => {
  let t: TestApp
  let w: World
  let ctx: MatrixContext
  let operations: Operation[]
  const tokens = new Map<PrincipalName, { api?: string; fhir?: string }>()
  const requestIds: string[] = []
  const leaks: string[] = []
  let cells = 0
  let fhirValidated = 0

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    const publicUrl = t.config.publicUrl
    const user = (u: keyof World['users'], extra: { expiresIn?: number } = {}) => ({
      api: () => userToken(t.app, publicUrl, w, w.users[u], ALL_API_SCOPES, extra),
      fhir: () =>
        userToken(t.app, publicUrl, w, w.users[u], 'openid fhirUser user/*.rs user/*.cud patient/*.rs', {
          resource: 'fhir',
          ...extra,
        }),
    })
    const client = (clientId: string, scope: string) => ({
      api: () => mintToken(t.app, publicUrl, { clientId, scope }),
      // Reads everywhere, and create/delete of its own FHIR Subscriptions: each interaction needs
      // its own SMART permission (ADR-0032), so the policy behind those cells is still exercised.
      fhir: () =>
        mintToken(t.app, publicUrl, {
          clientId,
          scope: 'system/*.rs system/Subscription.cd',
          resource: 'fhir',
        }),
    })
    const makers: Record<PrincipalName, { api: () => Promise<string>; fhir: () => Promise<string> } | null> =
      {
        anonymous: null,
        expired: user('patient', { expiresIn: -1 }),
        revoked: user('patient'),
        wrongAudience: null,
        patientSelf: user('patient'),
        patientOther: user('otherPatient'),
        caregiverWith: user('caregiverWith'),
        caregiverWithout: user('caregiverWithout'),
        clinicianTeam: user('clinicianTeam'),
        clinicianOutside: user('clinicianOutside'),
        clinicianConsent: user('clinicianConsent'),
        clinicianRevoked: user('clinicianRevoked'),
        clinicianBreakGlass: user('clinicianBreakGlass'),
        orgAdminThis: user('orgAdminA'),
        orgAdminOther: user('orgAdminB'),
        admin: user('admin'),
        auditor: user('auditor'),
        deviceBound: client(w.devices.bound.clientId, 'device-data:write'),
        deviceOther: client(w.devices.other.clientId, 'device-data:write'),
        service: client(w.services.orgA.clientId, 'patients:read device-data:read reports:read'),
        serviceOther: client(w.services.orgB.clientId, 'patients:read device-data:read reports:read'),
        serviceConsent: client(w.services.consented.clientId, 'patients:read device-data:read reports:read'),
      }
    for (const name of PRINCIPALS) {
      const make = makers[name]
      if (make) tokens.set(name, { api: await make.api(), fhir: await make.fhir() })
    }
    // A revoked token: issued, then revoked at the authorization server.
    const { provider } = t.app.vigil
    for (const value of Object.values(tokens.get('revoked') ?? {}))
      await (await provider.AccessToken.find(value as string))?.destroy()
    // A token for the other resource: the FHIR server's token at the API, the API's at the FHIR server.
    const patient = tokens.get('patientSelf') ?? {}
    tokens.set('wrongAudience', {
      ...(patient.fhir ? { api: patient.fhir } : {}),
      ...(patient.api ? { fhir: patient.api } : {}),
    })

    ctx = { app: t.app, world: w, db: t.db, publicUrl }
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    operations = operationsOf(doc)
  })
  after(() => t?.close())

  test('[SRS-AUTHZ-040] every operation of the OpenAPI document has a row, and every row an operation', () => {
    const documented = new Set(operations.map((o) => o.key))
    const missing = [...documented].filter((k) => !(k in MATRIX))
    const stale = Object.keys(MATRIX).filter((k) => !documented.has(k))
    assert.deepEqual(
      missing,
      [],
      `operations without a row in test/security/authorization-matrix.rows.ts: ${missing.join(', ')}`,
    )
    assert.deepEqual(stale, [], `rows for operations that no longer exist: ${stale.join(', ')}`)
  })

  test('[SRS-AUTHZ-040] every cell of the matrix holds (operation × principal → status)', async () => {
    const failures: string[] = []
    // Reads first, then writes: a write's cell prepares its own target (Row.prepare), so no cell
    // depends on another's side effects.
    const ordered = [...operations].sort((a, b) => Number(a.method !== 'GET') - Number(b.method !== 'GET'))
    for (const op of ordered) {
      const row = MATRIX[op.key] as Row | undefined
      if (!row) continue
      for (const principal of PRINCIPALS) {
        const expected = expectedStatus(row, op, principal)
        const cell: Cell = (await row.prepare?.(ctx, principal)) ?? {}
        const url =
          fill(op.path, { ...(row.params?.(ctx) ?? {}), ...(cell.params ?? {}) }) +
          query({ ...(row.query?.(ctx) ?? {}), ...(cell.query ?? {}) })
        const body = cell.body !== undefined ? cell.body : row.body ? row.body(ctx) : op.example
        const isFhir = op.path.startsWith('/fhir/')
        const token = tokens.get(principal)?.[isFhir ? 'fhir' : 'api']
        const headers: Record<string, string> = {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(row.headers ?? {}),
        }
        let payload: string | undefined
        if (body !== undefined && op.method !== 'GET' && op.method !== 'DELETE') {
          const type = op.contentType ?? 'application/json'
          headers['content-type'] = type
          payload =
            type === 'application/x-www-form-urlencoded'
              ? new URLSearchParams(body as Record<string, string>).toString()
              : JSON.stringify(body)
        }
        const res = await t.app.inject({
          method: op.method as 'GET',
          url,
          headers,
          ...(payload !== undefined ? { payload } : {}),
        })
        cells++
        const rid = res.headers['x-request-id']
        if (typeof rid === 'string' && !row.unaudited) requestIds.push(rid)
        if (res.statusCode !== expected)
          failures.push(
            `${op.key} as ${principal}: expected ${expected}, got ${res.statusCode} ${res.body.slice(0, 160)}`,
          )
        for (const value of w.canaryValues)
          if (res.body.includes(value)) leaks.push(`${op.key} as ${principal} returned the canary's ${value}`)
        // Issue 6: every FHIR resource and Bundle the server returns validates against R4 — errors (OperationOutcome) included.
        // SMART discovery under the FHIR base is plain JSON (SMART App Launch §2.0.2), not a FHIR resource.
        if (
          isFhir &&
          !op.path.includes('/.well-known/') &&
          !String(res.headers['content-type'] ?? '').startsWith('application/fhir+json')
        )
          failures.push(
            `${op.key} as ${principal}: ${String(res.headers['content-type'])} is not application/fhir+json`,
          )
        if (String(res.headers['content-type'] ?? '').startsWith('application/fhir+json')) {
          try {
            assertValidFhir(JSON.parse(res.body), `${op.key} as ${principal}`)
            fhirValidated++
          } catch (err) {
            failures.push(
              `${op.key} as ${principal}: not valid FHIR R4: ${(err as Error).message.slice(0, 200)}`,
            )
          }
        }
      }
    }
    console.log(
      `authorization matrix: ${cells} cells checked over ${operations.length} operations × ${PRINCIPALS.length} principals; ${fhirValidated} FHIR responses validated against R4`,
    )
    assert.ok(fhirValidated > 0, 'FHIR responses were validated')
    assert.deepEqual(failures, [], `${failures.length} of ${cells} cells failed:\n${failures.join('\n')}`)
  })

  test("[SRS-AUTHZ-041] the canary patient's unique values appear in no response of the matrix run", () => {
    assert.ok(cells > 0, 'the matrix ran')
    assert.deepEqual(leaks, [])
  })

  test('[SRS-AUDIT-040] every request of the matrix run left exactly one audit entry, or one per patient its answer carried', async () => {
    assert.ok(requestIds.length > 0)
    // Entries are written just after each response (reads: before); wait until every request has one.
    let counts = new Map<string, number>()
    for (let attempt = 0; attempt < 50; attempt++) {
      const { rows } = await t.db.query<{ request_id: string; n: number | string }>(
        'SELECT request_id, count(*) AS n FROM audit_entries WHERE request_id = ANY($1) GROUP BY request_id',
        [requestIds],
      )
      counts = new Map(rows.map((r) => [r.request_id, Number(r.n)]))
      if (counts.size === requestIds.length) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const suspect = requestIds.filter((id) => counts.get(id) !== 1)
    const { rows: suspectRows } = await t.db.query<{
      request_id: string
      action: string
      patient_id: string | null
    }>('SELECT request_id, action, patient_id FROM audit_entries WHERE request_id = ANY($1)', [suspect])
    // Several entries are right only for a read that carried several patients: one per patient, each named once (issue 15).
    const perPatient = (id: string) => {
      const rows = suspectRows.filter((r) => r.request_id === id)
      const patients = rows.map((r) => r.patient_id)
      return (
        rows.length > 1 &&
        new Set(rows.map((r) => r.action)).size === 1 &&
        patients.every((p) => p !== null) &&
        new Set(patients).size === rows.length
      )
    }
    const wrong = suspect
      .filter((id) => !perPatient(id))
      .map(
        (id) =>
          `${id}: ${counts.get(id) ?? 0} [${suspectRows
            .filter((r) => r.request_id === id)
            .map((r) => `${r.action} ${r.patient_id ?? '-'}`)
            .join(', ')}]`,
      )
    assert.deepEqual(
      wrong,
      [],
      `requests without exactly one entry or one per patient carried (of ${requestIds.length})`,
    )
  })
})

function expectedStatus(row: Row, op: Operation, principal: PrincipalName): number {
  if (row.public !== undefined) return row.public
  if (!op.secured) throw new Error(`${op.key} is not secured but its row has no public status`)
  if (
    principal === 'anonymous' ||
    principal === 'expired' ||
    principal === 'revoked' ||
    principal === 'wrongAudience'
  )
    return 401
  return row.expect[principal] ?? row.expect.others
}

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`no value for path parameter ${name} of ${path}`)
    return encodeURIComponent(value)
  })
}

function query(q: Record<string, string>): string {
  const s = new URLSearchParams(q).toString()
  return s ? `?${s}` : ''
}
