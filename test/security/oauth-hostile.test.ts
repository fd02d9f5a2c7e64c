// Hostile input on the OAuth endpoints (oidc-provider's, mounted in Fastify; ADR-0005): the
// OpenAPI fuzzer (fuzz.test.ts) cannot reach them, since the protocol's routes are not in the
// OpenAPI document. Every endpoint × every parameter it reads × each hostile value of ADR-0015
// that a form or query can carry (percent-encoded NUL, bytes that are not UTF-8, a lone
// surrogate's bytes, broken percent escapes, CR LF, markup, a 100 kB value, the parameter twice,
// bracketed names), as a form, a query or a JSON body, with good, bad and hostile client
// credentials. Every answer must hold:
//   - no 5xx, an answer within the timeout;
//   - an HTML page never carries the hostile markup unescaped, and no redirect a raw CR or LF;
//   - no hostile value, and no error-level line, in the captured log.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { nativeAppMetadata } from '../support/identity.ts'
import {
  authorizationParams,
  registerSecretClient,
  startOAuthTestServer,
  type OAuthTestServer,
} from '../support/oauth.ts'

const MARKER = `OAFUZZ${randomUUID().slice(0, 8)}X`
const SCRIPT = `${MARKER}<script>alert(1)</script>`

/** Raw form-encoded values (written into the body or query as they are, not encoded again). */
const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ['NUL', `${MARKER}%00x`],
  ['not UTF-8', `${MARKER}%FF%FE`],
  ['a lone surrogate in UTF-8 bytes', `${MARKER}%ED%A0%80`],
  ['an overlong encoding', `${MARKER}%C0%AF`],
  ['a broken escape', `${MARKER}%zz%`],
  ['CR LF', `${MARKER}%0D%0ASet-Cookie:%20x=1`],
  ['markup', encodeURIComponent(SCRIPT)],
  ['100 kB', `${MARKER}${'x'.repeat(100_000)}`],
  ['empty', ''],
]

interface Endpoint {
  readonly name: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** A request the endpoint accepts or refuses normally; each parameter is made hostile in turn. */
  readonly params: Record<string, string>
  /** Sent with client authentication (client_secret_basic). */
  readonly basic?: boolean
}

describe('hostile input on the OAuth endpoints', () => {
  let s: OAuthTestServer
  const svc = `hostile-svc-${randomUUID()}`
  const app = `hostile-app-${randomUUID()}`
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  let token = ''

  before(async () => {
    s = await startOAuthTestServer()
    await registerSecretClient(s, svc, secret, 'account:read')
    await s.clients.upsert({ clientId: app, metadata: nativeAppMetadata(app) })
    const res = await fetch(`${s.issuer}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${svc}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=account%3Aread',
    })
    token = ((await res.json()) as { access_token: string }).access_token
  })
  after(() => s?.close())

  const authorization = (): Record<string, string> => ({
    ...authorizationParams(app),
    aud: `${s.issuer}/fhir/R4`,
    launch: 'x',
    prompt: 'login',
    max_age: '60',
    resource: '',
  })
  const endpoints = (): Endpoint[] => [
    {
      name: 'authorize',
      method: 'GET',
      path: '/oauth/authorize',
      params: authorization(),
    },
    { name: 'PAR', method: 'POST', path: '/oauth/par', params: { ...authorization(), aud: '' } },
    {
      name: 'client credentials',
      method: 'POST',
      path: '/oauth/token',
      basic: true,
      params: { grant_type: 'client_credentials', scope: 'account:read', resource: `${s.issuer}/api` },
    },
    {
      name: 'authorization code',
      method: 'POST',
      path: '/oauth/token',
      params: {
        grant_type: 'authorization_code',
        client_id: app,
        code: 'x',
        code_verifier: 'y'.repeat(43),
        redirect_uri: 'http://127.0.0.1/callback',
      },
    },
    {
      name: 'refresh',
      method: 'POST',
      path: '/oauth/token',
      params: { grant_type: 'refresh_token', refresh_token: 'x', client_id: app, scope: 'openid' },
    },
    {
      name: 'device code',
      method: 'POST',
      path: '/oauth/token',
      basic: true,
      params: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' },
    },
    {
      name: 'token exchange',
      method: 'POST',
      path: '/oauth/token',
      basic: true,
      params: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: 'x',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'x',
      },
    },
    {
      name: 'private_key_jwt',
      method: 'POST',
      path: '/oauth/token',
      params: {
        grant_type: 'client_credentials',
        client_id: svc,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: 'a.b.c',
      },
    },
    {
      name: 'device authorization',
      method: 'POST',
      path: '/oauth/device/auth',
      basic: true,
      params: { scope: 'account:read' },
    },
    {
      name: 'introspection',
      method: 'POST',
      path: '/oauth/introspect',
      basic: true,
      params: { token, token_type_hint: 'access_token' },
    },
    {
      name: 'revocation',
      method: 'POST',
      path: '/oauth/revoke',
      basic: true,
      params: { token: 'x', token_type_hint: 'refresh_token' },
    },
    { name: 'userinfo', method: 'GET', path: '/oauth/userinfo', params: { access_token: 'x' } },
    {
      name: 'end session',
      method: 'GET',
      path: '/oauth/logout',
      params: {
        id_token_hint: 'x',
        post_logout_redirect_uri: 'http://127.0.0.1/',
        state: 's',
        client_id: app,
      },
    },
    {
      name: 'device page',
      method: 'POST',
      path: '/oauth/device',
      params: { user_code: 'BCDF-GHJK', xsrf: 'x' },
    },
  ]

  /** `params` written as a form, with the raw (already encoded) value at `name`. */
  const form = (params: Record<string, string>, name?: string, raw?: string, extra = '') =>
    Object.entries(params)
      .map(
        ([k, v]) =>
          `${encodeURIComponent(k)}=${k === name && raw !== undefined ? raw : encodeURIComponent(v)}`,
      )
      .join('&') + extra

  const basic = `Basic ${Buffer.from(`${encodeURIComponent(svc)}:${encodeURIComponent(secret)}`).toString('base64')}`
  const hostileBasics: ReadonlyArray<readonly [string, string]> = [
    ['not base64', `Basic ${MARKER}%%%`],
    ['no colon', `Basic ${Buffer.from(MARKER).toString('base64')}`],
    ['a broken escape in the id', `Basic ${Buffer.from(`${MARKER}%zz:${secret}`).toString('base64')}`],
    [
      'bytes that are not UTF-8',
      `Basic ${Buffer.concat([Buffer.from(MARKER), Buffer.from([0xff, 0x3a, 0xfe])]).toString('base64')}`,
    ],
    ['a bearer token that is not one', `Bearer ${MARKER}`],
  ]

  test(
    '[SRS-OAUTH-535] every OAuth endpoint × every parameter × hostile values, forms, queries, JSON and credentials: no 5xx, no unescaped markup, no raw CR LF, nothing hostile in the log',
    { timeout: 10 * 60_000 },
    async () => {
      const failures: string[] = []
      let requests = 0
      const send = async (
        what: string,
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: string,
      ) => {
        requests++
        let res: Response
        try {
          res = await fetch(url, {
            method,
            headers: { accept: 'text/html, application/json', ...headers },
            body,
            redirect: 'manual',
            signal: AbortSignal.timeout(15_000),
          })
        } catch (err) {
          failures.push(`${what}: no answer (${(err as Error).message})`)
          return
        }
        const text = await res.text()
        if (res.status >= 500) failures.push(`${what}: ${res.status} ${text.slice(0, 160)}`)
        if ((res.headers.get('content-type') ?? '').startsWith('text/html') && text.includes(SCRIPT))
          failures.push(`${what}: the page carries the markup unescaped`)
        if (/[\r\n]/.test(res.headers.get('location') ?? ''))
          failures.push(`${what}: CR or LF in the redirect`)
      }
      for (const e of endpoints()) {
        const auth: Record<string, string> = e.basic ? { authorization: basic } : {}
        const at = (query: string) => `${s.issuer}${e.path}${query ? `?${query}` : ''}`
        const request = (what: string, body: string, headers: Record<string, string> = auth) =>
          e.method === 'GET'
            ? send(what, 'GET', at(body), headers)
            : send(
                what,
                'POST',
                at(''),
                { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
                body,
              )
        for (const name of Object.keys(e.params)) {
          for (const [hostile, raw] of HOSTILE)
            await request(`${e.name} ${name}=${hostile}`, form(e.params, name, raw))
          await request(`${e.name} ${name} twice`, form(e.params, undefined, undefined, `&${name}=${MARKER}`))
          await request(
            `${e.name} ${name}[]`,
            form(
              e.params,
              undefined,
              undefined,
              `&${encodeURIComponent(`${name}[]`)}=${MARKER}&${encodeURIComponent(`${name}[a]`)}=${MARKER}`,
            ),
          )
        }
        if (e.method === 'POST') {
          const json = { ...e.params, scope: [MARKER], nested: { [MARKER]: [1, { a: null }] } }
          await send(
            `${e.name} as JSON`,
            'POST',
            at(''),
            { ...auth, 'content-type': 'application/json' },
            JSON.stringify(json),
          )
          await send(
            `${e.name} as text`,
            'POST',
            at(''),
            { ...auth, 'content-type': 'text/plain' },
            form(e.params),
          )
          await send(
            `${e.name} form with a charset`,
            'POST',
            at(''),
            { ...auth, 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' },
            form(e.params),
          )
        }
        for (const [hostile, header] of hostileBasics)
          await request(`${e.name} with ${hostile}`, form(e.params), { authorization: header })
      }
      console.log(
        `oauth-hostile: ${requests} requests over ${endpoints().length} endpoints; ${failures.length} failures`,
      )
      assert.ok(requests > 500, 'every endpoint and parameter was tried')
      assert.deepEqual(failures, [], `${failures.length} failures:\n${failures.slice(0, 40).join('\n')}`)
      s.logs.assertNothingHostile(MARKER)
    },
  )
})
