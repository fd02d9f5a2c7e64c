// The authorization server: oidc-provider (OpenID Certified), configured, never re-implemented
// (see ADR-0005). Each setting below is a security decision; the RFC it implements is cited.

import type { JWK } from 'jose'
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../../config/index.ts'
import type { Queryable } from '../../platform/db/index.ts'
import type { AccountDirectory } from './account-directory.ts'
import { successSource, userCodeConfirmSource, userCodeInputSource } from './device-pages.ts'
import type { ClientStore } from './client-store.ts'
import { INTERNAL_AUDIENCES } from './internal-audiences.ts'
import { createPostgresAdapterFactory, type StorageKeyring } from './postgres-adapter.ts'
import { API_SCOPES, FHIR_SCOPES, OIDC_SCOPES } from './scopes.ts'
import { registerTokenExchange } from './token-exchange.ts'

export const OAUTH_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  userinfo: '/oauth/userinfo',
  end_session: '/oauth/logout',
  device_authorization: '/oauth/device/auth',
  code_verification: '/oauth/device',
  pushed_authorization_request: '/oauth/par',
  registration: '/oauth/register',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
  credential: '/oauth/credential',
} as const

/** The resource indicator (RFC 8707) of the Vigil API: the audience of a token sent without `resource`. */
export function apiResource(publicUrl: string): string {
  return `${publicUrl}/api`
}

/** The FHIR R4 endpoint as a resource server (SMART on FHIR scopes; the FHIR issue serves it). */
export function fhirResource(publicUrl: string): string {
  return `${publicUrl}/fhir/R4`
}

export interface ProviderDeps {
  readonly config: Config
  readonly db: Queryable
  readonly clients: ClientStore
  readonly accounts: AccountDirectory
  /** Private signing JWKs, the current key first (loadSigningKeys). */
  readonly signingKeys: readonly JWK[]
  /** Keys the stored codes and tokens by a keyed hash, never by their value (ADR-0013). */
  readonly keyring: StorageKeyring
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps
  const api = apiResource(config.publicUrl)
  const fhir = fhirResource(config.publicUrl)
  const secureCookies = config.publicUrl.startsWith('https://')
  const cookieSecret = config.secrets.cookieSecret
  if (!cookieSecret) throw new Error('COOKIE_SECRET is required to sign OAuth cookies')

  const configuration: Configuration = {
    adapter: createPostgresAdapterFactory({ db: deps.db, clients: deps.clients, keyring: deps.keyring }),
    jwks: { keys: deps.signingKeys as never },
    cookies: {
      keys: [cookieSecret],
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookies },
    },

    async findAccount(_ctx, sub) {
      const account = await deps.accounts.findAccount(sub)
      if (!account || account.status !== 'active') return undefined
      return {
        accountId: sub,
        async claims() {
          return { sub, email: account.email, email_verified: account.emailVerified, name: account.displayName ?? undefined }
        },
      }
    },
    // acr, amr and auth_time let a relying party see how the user authenticated (both factors or one).
    claims: { acr: null, amr: null, auth_time: null, sid: null, iss: null, openid: ['sub', 'acr', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes: [...OIDC_SCOPES, ...API_SCOPES, ...FHIR_SCOPES],

    // Authorization code only: no implicit, no hybrid (OAuth 2.0 Security BCP, RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // PKCE for every client, confidential ones too (RFC 9700 §2.1.1); oidc-provider supports S256 only.
    pkce: { required: () => true },

    clientAuthMethods: ['none', 'client_secret_basic', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'],
      idTokenSigningAlgValues: ['ES256'],
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
    extraClientMetadata: {
      // first_party: Vigil's own apps; the user is not asked to consent to them.
      properties: ['first_party'],
      validator(_ctx, key, value) {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('first_party must be a boolean')
      },
    },

    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 8628: a device without a keyboard is paired by the patient on a phone.
      deviceFlow: { enabled: true, charset: 'base-20', mask: '****-****', userCodeInputSource, userCodeConfirmSource, successSource },
      // RFC 7662 / RFC 7009: only authenticated (confidential) clients may introspect or revoke.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: KoaContextWithOIDC, client) => client.clientAuthMethod !== 'none',
      },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
      // RFC 8707: tokens are issued for one resource server; no `resource` → the Vigil API.
      resourceIndicators: {
        enabled: true,
        // SMART App Launch: an app names the FHIR server with `aud` rather than `resource`, and a
        // backend service asks for `system/*.rs` with neither; both mean the FHIR resource server.
        defaultResource: async (ctx, _client, oneOf) => {
          if (oneOf) return oneOf.includes(api) ? api : (oneOf[0] ?? api)
          return wantsFhir(ctx.oidc.params ?? {}, fhir) ? fhir : api
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          const scopes = resourceIndicator === api ? API_SCOPES : resourceIndicator === fhir ? FHIR_SCOPES : undefined
          if (!scopes) throw new errors.InvalidTarget()
          return {
            scope: scopes.join(' '),
            audience: resourceIndicator,
            accessTokenTTL: config.oauth.accessTokenTtlSeconds,
            // Opaque outside: claims never leak to clients (opaque outside, JWT inside; ADR-0005).
            accessTokenFormat: 'opaque',
          }
        },
      },
    },

    // SMART App Launch: `aud` (the FHIR base URL) and `launch` are authorization request parameters.
    extraParams: ['aud', 'launch'],
    // launch/patient (standalone launch): the patient's own record becomes the token's patient
    // context, stored with the opaque token (token.extra.patient, read by the authenticator).
    async extraTokenClaims(_ctx, token) {
      // Claims already on the token (set by whoever built it) are kept.
      const existing = (token as { extra?: Record<string, unknown> }).extra
      const accountId = 'accountId' in token ? (token.accountId as string | undefined) : undefined
      if (!accountId || !token.scopes.has('launch/patient')) return existing
      const patient = await launchPatient(deps.db, accountId)
      return patient ? { ...existing, patient } : existing
    },

    ttl: {
      AccessToken: config.oauth.accessTokenTtlSeconds,
      ClientCredentials: config.oauth.accessTokenTtlSeconds,
      AuthorizationCode: config.oauth.authorizationCodeTtlSeconds,
      RefreshToken: config.oauth.refreshTokenTtlSeconds,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 1800,
      Session: 8 * 3600,
      Grant: config.oauth.refreshTokenTtlSeconds,
    },
    // RFC 9700 §4.14.2: refresh tokens rotate on every use; oidc-provider revokes the whole grant
    // when a rotated (consumed) refresh token is presented again.
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),

    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    routes: OAUTH_ROUTES,

    async renderError(ctx, out) {
      // Never echo request parameters; show the OAuth error code and a plain sentence.
      ctx.type = 'html'
      const code = String(out.error ?? 'server_error').replace(/[^a-z_]/g, '')
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><main><h1>Sign-in could not continue</h1><p>Error: <code>${code}</code></p><p>Return to the application and try again.</p></main></body></html>`
    },
  }

  const provider = new Provider(config.publicUrl, configuration)
  provider.proxy = config.trustProxy.length > 0
  // RFC 8693 token exchange for internal services, on oidc-provider's grant-type extension point;
  // signed with the key oidc-provider signs with (the current one, first in the list).
  const [currentKey] = deps.signingKeys
  if (!currentKey) throw new Error('no signing key')
  registerTokenExchange(provider, { signingKey: currentKey, audiences: INTERNAL_AUDIENCES, accounts: deps.accounts })
  // SMART App Launch §2.0.10: the token response names the launch's patient. oidc-provider has no
  // hook for extra token-response members, so this middleware adds it from the stored token.
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200) return
    const body = ctx.body as Record<string, unknown> | undefined
    if (!body || typeof body.access_token !== 'string' || typeof body.scope !== 'string' || !body.scope.split(' ').includes('launch/patient')) return
    const token = await provider.AccessToken.find(body.access_token)
    const patient = (token?.extra as Record<string, unknown> | undefined)?.['patient']
    if (typeof patient === 'string') ctx.body = { ...body, patient }
  })
  return provider
}

const SMART_SCOPE = /^(patient|user|system)\/[A-Za-z*]+\.[a-z*]+$|^launch\/patient$/

/** Does this request (authorization or client credentials) address the FHIR server: `aud` names it, or a SMART scope asks for it? */
function wantsFhir(params: Record<string, unknown>, fhir: string): boolean {
  const aud = params.aud
  if (typeof aud === 'string' && aud.replace(/\/$/, '') === fhir) return true
  const scope = typeof params.scope === 'string' ? params.scope : ''
  return scope.split(' ').some((s) => SMART_SCOPE.test(s))
}

/** The patient record a user launches a SMART app for (standalone launch: their own). */
async function launchPatient(db: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM patients WHERE user_id = $1 AND erased_at IS NULL', [userId])
  return rows[0]?.id
}
