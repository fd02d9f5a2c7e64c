// An app listening on a real loopback port whose PUBLIC_URL (the OAuth issuer) is that port, for
// driving the authorization server with a real client library (openid-client).
import * as client from 'openid-client'
import { createKeyring, keyringSealer } from '../../src/platform/crypto/keyring.ts'
import { createClientStore } from '../../src/security/oauth-server/index.ts'
import { createTestApp, type TestApp, type TestAppOptions } from './app.ts'
import { TEST_KEYRING } from './config.ts'
import { reservePort } from './ports.ts'

export interface OAuthTestServer extends TestApp {
  readonly issuer: string
  readonly clients: ReturnType<typeof createClientStore>
  discover(
    clientId: string,
    auth?: client.ClientAuth,
    metadata?: Partial<client.ClientMetadata>,
  ): Promise<client.Configuration>
}

export async function startOAuthTestServer(options: TestAppOptions = {}): Promise<OAuthTestServer> {
  const reservation = await reservePort()
  const { port } = reservation
  const issuer = `http://127.0.0.1:${port}`
  let t: TestApp
  try {
    t = await createTestApp({ ...options, env: { PUBLIC_URL: issuer, ...options.env } })
  } finally {
    await reservation.release()
  }
  await t.app.listen({ port, host: '127.0.0.1' })
  const keyring = createKeyring(TEST_KEYRING)
  const clients = createClientStore({ db: t.db, sealer: keyringSealer(keyring) })
  return {
    ...t,
    issuer,
    clients,
    discover: (clientId, auth, metadata) =>
      client.discovery(new URL(issuer), clientId, metadata, auth, {
        execute: [client.allowInsecureRequests],
      }),
  }
}

/** Registers a confidential client for the client-credentials grant (client_secret_basic). */
export function registerSecretClient(
  s: Pick<OAuthTestServer, 'clients'>,
  clientId: string,
  secret: string,
  scope: string,
  extra: Record<string, unknown> = {},
) {
  return s.clients.upsert({
    clientId,
    secret,
    metadata: {
      client_id: clientId,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
      ...extra,
    },
  })
}

/** The OAuth error code of a failed openid-client call, from the body or the WWW-Authenticate challenge. */
export function oauthError(err: unknown): string | undefined {
  const e = err as { error?: string; cause?: unknown }
  if (typeof e.error === 'string') return e.error
  if (Array.isArray(e.cause))
    return (e.cause[0] as { parameters?: { error?: string } } | undefined)?.parameters?.error
  return undefined
}

/** An authorization request with PKCE (S256) and state, as a client would build it. */
export async function pkceAuthorizationRequest(
  config: client.Configuration,
  params: { redirectUri: string; scope: string } & Record<string, string>,
) {
  const { redirectUri, ...rest } = params
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...rest,
  })
  return { url, verifier, state }
}

/**
 * A plain authorization request URL for a registered native app (nativeAppMetadata): code with
 * PKCE S256 (a fixed challenge), `openid`, its loopback redirect URI; `extra` overrides or adds.
 */
export function authorizationUrl(issuer: string, clientId: string, extra: Record<string, string> = {}): URL {
  const url = new URL(`${issuer}/oauth/authorize`)
  for (const [k, v] of Object.entries({ ...authorizationParams(clientId), ...extra }))
    url.searchParams.set(k, v)
  return url
}

/** The parameters of authorizationUrl, for a request sent another way (PAR, a form). */
export function authorizationParams(clientId: string): Record<string, string> {
  return {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: 'http://127.0.0.1/callback',
    scope: 'openid',
    state: 'a-state-value',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }
}
