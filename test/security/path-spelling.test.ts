// Generated attack suite (issue 11, finding 1): every protected operation of /openapi.json ×
// non-canonical spellings of its path × each token audience, sent over a raw socket to a real
// listening server — so the request line reaches Node's parser and Fastify's router exactly as an
// attacker writes it (absolute form, percent-encoding, double slashes, dot segments, trailing dots,
// case), which `inject()` would normalise or refuse before the server saw it.
//
// The rule under test (ADR-0012): a token is good for one resource, and which resource a request
// is for comes from the route the router matched, never from the raw URL. So a token for the other
// audience never gets a 2xx, however the path is spelled; and a spelling either reaches the same
// route (and the same audience check) or answers 400/404.
//
// Which principal: for each operation, the first one the authorization matrix says succeeds
// (authorization-matrix.rows.ts), with the matrix's own parameters, query and body — so a
// spelling that slipped past the audience check would answer 2xx, not a policy refusal.

import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, type World } from '../support/world.ts'
import { MATRIX, type Cell, type MatrixContext, type Row } from './authorization-matrix.rows.ts'
import { TOKEN_PRINCIPALS, tokensFor, type AudienceTokens, type TokenPrincipal } from './principal-tokens.ts'

interface Operation {
  readonly key: string
  readonly method: string
  readonly path: string
  readonly example: unknown
}

type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      {
        security?: Array<Record<string, unknown>>
        requestBody?: { content?: Record<string, { schema?: { examples?: unknown[] } }> }
      }
    >
  >
}

function protectedOperations(doc: OpenApi): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      if (!op.security?.some((s) => 'bearerAuth' in s)) continue
      const media = Object.values(op.requestBody?.content ?? {})[0]
      ops.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        example: media?.schema?.examples?.[0],
      })
    }
  }
  return ops
}

/** Non-canonical spellings of a canonical origin-form path (which carries no query). */
export function spellingsOf(path: string, authority: string): Array<{ name: string; target: string }> {
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`
  const first = path.slice(1, 2)
  const segments = path.split('/')
  const last = segments.length - 1
  const otherPrefix = path.startsWith('/fhir/') ? '/api/v2' : '/fhir/R4'
  return [
    { name: 'absolute form', target: `http://${authority}${path}` },
    { name: 'absolute form, other host', target: `http://attacker.example${path}` },
    { name: 'absolute form, host with a trailing dot', target: `http://localhost.${path}` },
    { name: 'absolute form, upper-case scheme and host', target: `HTTP://LOCALHOST${path}` },
    { name: 'percent-encoded first letter', target: `/${hex(first)}${path.slice(2)}` },
    { name: 'every letter percent-encoded', target: path.replace(/[a-zA-Z]/g, hex) },
    {
      name: 'every letter percent-encoded, upper-case hex',
      target: path.replace(/[a-zA-Z]/g, (c) => hex(c).toUpperCase()),
    },
    { name: 'encoded slash', target: path.replace(/^\/([^/]+)\//, '/$1%2f') },
    { name: 'leading double slash', target: `/${path}` },
    { name: 'inner double slash', target: path.replace(/^\/([^/]+)\//, '/$1//') },
    { name: 'dot segment', target: path.replace(/^\/([^/]+)\//, '/$1/./') },
    { name: 'dot-dot from the other prefix', target: `${otherPrefix}/../..${path}` },
    { name: 'encoded dot-dot from the other prefix', target: `${otherPrefix}/%2e%2e/%2e%2e${path}` },
    { name: 'trailing dot', target: `${path}.` },
    { name: 'trailing dot on the first segment', target: path.replace(/^\/([^/]+)\//, '/$1./') },
    { name: 'trailing slash', target: `${path}/` },
    { name: 'upper case', target: path.toUpperCase() },
    { name: 'first letter upper case', target: `/${first.toUpperCase()}${path.slice(2)}` },
    {
      name: 'last segment case flipped',
      target: segments
        .map((s, i) => (i === last ? s.replace(/[a-z]/g, (c) => c.toUpperCase()) : s))
        .join('/'),
    },
    { name: 'semicolon parameter', target: path.replace(/^\/([^/]+)\//, '/$1;x=1/') },
    { name: 'backslash', target: path.replace(/^\/([^/]+)\//, '/$1\\') },
  ]
}

interface RawResponse {
  readonly status: number
  readonly head: string
}

/** One request over a fresh TCP connection, the request line exactly as given. */
function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(10_000, () => socket.destroy(new Error(`timeout on ${method} ${target}`)))
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      if (!m)
        return reject(
          new Error(`no status line for ${method} ${target}: ${JSON.stringify(text.slice(0, 80))}`),
        )
      resolve({ status: Number(m[1]), head: text.slice(0, text.indexOf('\r\n\r\n')) })
    })
    const lines = [
      `${method} ${target} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ]
    if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
    // Written, not ended: a half-closed socket may be dropped before the answer; the server closes (Connection: close).
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`)
  })
}

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`no value for path parameter ${name} of ${path}`)
    return encodeURIComponent(value)
  })
}

/** The first principal the matrix lets succeed on this row (2xx), if any. */
function permittedPrincipal(row: Row): TokenPrincipal | undefined {
  return TOKEN_PRINCIPALS.find((p) => {
    const s = row.expect[p] ?? row.expect.others
    return s >= 200 && s < 300
  })
}

describe('path spellings × token audiences (raw socket, real listening server)', () => {
  let t: TestApp
  let w: World
  let ctx: MatrixContext
  let port: number
  let operations: Operation[]
  const tokens = new Map<TokenPrincipal, AudienceTokens>()

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    ctx = { app: t.app, world: w, db: t.db, publicUrl: t.config.publicUrl }
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as { port: number }).port
    operations = protectedOperations(
      (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApi,
    )
  })
  after(() => t?.close())

  async function tokenOf(principal: TokenPrincipal): Promise<AudienceTokens> {
    let pair = tokens.get(principal)
    if (!pair) {
      pair = await tokensFor(t.app, t.config.publicUrl, w, principal)
      tokens.set(principal, pair)
    }
    return pair
  }

  test('[SRS-AUTHZ-100] a token for the other audience never gets a 2xx, however a protected path is spelled; the right audience reaches the route or gets 400/404', async () => {
    assert.ok(
      operations.length >= 40,
      `the OpenAPI document lists the protected operations (${operations.length})`,
    )
    const failures: string[] = []
    let sent = 0
    let wrongRefused = 0
    let rightReached = 0
    // The right audience through every spelling: one read per resource (the first GET under each
    // /api/vN/<resource> or /fhir/R4/<Type>), which keeps the run bounded; the wrong audience is tried on every operation.
    const rightSample = new Set<string>()
    const sampled = new Set<string>()
    for (const op of operations) {
      const prefix = op.path.split('/').slice(0, 4).join('/')
      if (op.method === 'GET' && !sampled.has(prefix)) {
        sampled.add(prefix)
        rightSample.add(op.key)
      }
    }
    for (const op of operations) {
      const row = MATRIX[op.key]
      assert.ok(row, `${op.key} has a matrix row`)
      const principal = permittedPrincipal(row) ?? 'admin'
      const pair = await tokenOf(principal)
      const isFhir = op.path.startsWith('/fhir/')
      const right = isFhir ? pair.fhir : pair.api
      const wrong = isFhir ? pair.api : pair.fhir
      const request = async (target: string, token: string, cell: Cell) => {
        const body = cell.body !== undefined ? cell.body : row.body ? row.body(ctx) : op.example
        const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(row.headers ?? {}) }
        let payload: string | undefined
        if (body !== undefined && op.method !== 'GET' && op.method !== 'DELETE') {
          headers['content-type'] = isFhir ? 'application/fhir+json' : 'application/json'
          payload = JSON.stringify(body)
        }
        const q = new URLSearchParams({ ...(row.query?.(ctx) ?? {}), ...(cell.query ?? {}) }).toString()
        sent++
        return rawRequest(port, op.method, target + (q ? `?${q}` : ''), headers, payload)
      }
      const pathOf = (cell: Cell) => fill(op.path, { ...(row.params?.(ctx) ?? {}), ...(cell.params ?? {}) })

      // Control: the canonical spelling with the right audience reaches the route.
      const controlCell = (await row.prepare?.(ctx, principal)) ?? {}
      const control = await request(pathOf(controlCell), right, controlCell)
      if (control.status === 401)
        failures.push(
          `${op.key} as ${principal}: the right-audience token is refused at the canonical path (the suite proves nothing)`,
        )
      // The canonical spelling with the wrong audience.
      const canonicalCell = (await row.prepare?.(ctx, principal)) ?? {}
      const canonicalWrong = await request(pathOf(canonicalCell), wrong, canonicalCell)
      if (canonicalWrong.status !== 401)
        failures.push(`${op.key} canonical, wrong audience: ${canonicalWrong.status}, expected 401`)

      // One target for every wrong-audience spelling: none of them may succeed, so none uses it up.
      const wrongCell = (await row.prepare?.(ctx, principal)) ?? {}
      // The spellings of one operation go out together (the server answers them concurrently), so the run stays bounded.
      const authority = `127.0.0.1:${port}`
      const wrongSpellings = spellingsOf(pathOf(wrongCell), authority)
      const rightSpellings = spellingsOf(pathOf(controlCell), authority)
      await Promise.all(
        wrongSpellings.map(async ({ name, target }, i) => {
          const res = await request(target, wrong, wrongCell)
          if (res.status >= 200 && res.status < 300)
            failures.push(
              `${op.method} ${target} (${name}) with the ${isFhir ? 'API' : 'FHIR'} token of ${principal}: ${res.status}`,
            )
          else wrongRefused++
          if (op.method !== 'GET' || !rightSample.has(op.key)) return
          // The right audience: the same route as the canonical spelling, or a refusal of the spelling itself.
          const rightTarget = (rightSpellings[i] as { target: string }).target
          const ok = await request(rightTarget, right, controlCell)
          if (ok.status === control.status) rightReached++
          else if (ok.status !== 400 && ok.status !== 404)
            failures.push(
              `${op.method} ${rightTarget} (${name}) with the right token of ${principal}: ${ok.status}, canonical ${control.status}`,
            )
        }),
      )
    }
    console.log(
      `path spellings: ${sent} raw requests over ${operations.length} protected operations; ${wrongRefused} wrong-audience spellings refused; ${rightReached} right-audience spellings reached their route`,
    )
    assert.deepEqual(
      failures.slice(0, 30),
      [],
      `${failures.length} failures (the first 30 shown):\n${failures.slice(0, 30).join('\n')}`,
    )
  })
})
