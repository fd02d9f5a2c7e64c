// The authorization server: oidc-provider (OpenID Certified), configured, never re-implemented
// (see ADR-0005). Each setting below is a security decision; the RFC it implements is cited.

import type { EventEmitter } from 'node:events'
import type { JWK } from 'jose'
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../../config/index.ts'
import { findDatabaseUnavailable, type Database, type Queryable } from '../../platform/db/index.ts'
import { formActionTargetOf } from '../../platform/http/pages/html.ts'
import { withFormActionTarget } from '../../platform/http/security-headers.ts'
import type { AccountDirectory } from './account-directory.ts'
import { clientAddressOf } from './client-address.ts'
import {
  notConnectedPage,
  sessionLostPage,
  successSource,
  userCodeConfirmSource,
  userCodeInputSource,
} from './device-pages.ts'
import type { ClientStore } from './client-store.ts'
import { INTERNAL_AUDIENCES } from './internal-audiences.ts'
import { createPostgresAdapterFactory, type StorageKeyring } from './postgres-adapter.ts'
import {
  API_SCOPES,
  defaultScopeOf,
  FHIR_SCOPES,
  firstRefusedScope,
  normalizeScopes,
  parseSmartScope,
  scopeAllowed,
  STATIC_SCOPES,
} from './scopes.ts'
import { renderOAuthError } from './error-page.ts'
import { logoutSource, postLogoutSuccessSource } from './logout-pages.ts'
import { consumeLaunch, fhirUserOf, grantPatient, recordGrantContext, SMART_ERRORS } from './smart.ts'
import { registerTokenExchange } from './token-exchange.ts'
import { answerDatabaseOutagesWith503, OAUTH_UNAVAILABLE_ERROR } from './unavailable.ts'

/**
 * Algorithms a client may sign its private_key_jwt assertion with (advertised by discovery, each
 * shown to work by test/e2e/smart-discovery-behaviour.test.ts). Ed25519 is the fully-specified
 * name (RFC 9864) that current libraries (openid-client, jose 6) put in the header for an Ed25519
 * key; EdDSA is the older name for the same signature, still sent by others (fhirclient's jose 4).
 */
export const CLIENT_AUTH_SIGNING_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'Ed25519', 'EdDSA'] as const

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
  readonly db: Queryable & Pick<Database, 'transaction'>
  readonly clients: ClientStore
  readonly accounts: AccountDirectory
  /** Private signing JWKs, the current key first (loadSigningKeys). */
  readonly signingKeys: readonly JWK[]
  /** Keys the stored codes and tokens by a keyed hash, never by their value (ADR-0013). */
  readonly keyring: StorageKeyring
  /**
   * Told of every request an OAuth endpoint refuses (invalid_scope, invalid_client,
   * invalid_token, a wrong user code, …) or fails to answer (server_error), for the audit trail:
   * the endpoint, the OAuth error code, the status and the client, never the request's parameters.
   */
  readonly onRefusal?: (refusal: OAuthRefusal) => void
}

/** The OAuth endpoints whose refusals and failures are audited, each as `oauth.<endpoint>` (ADR-0018). */
export type OAuthEndpoint =
  | 'authorization'
  | 'token'
  | 'pushed_authorization_request'
  | 'device_authorization'
  | 'code_verification'
  | 'introspection'
  | 'revocation'
  | 'userinfo'
  | 'end_session'

/** oidc-provider's route names, each to the endpoint it belongs to (a resumed authorization is the authorization's). */
const ENDPOINT_OF_ROUTE: Readonly<Record<string, OAuthEndpoint>> = {
  authorization: 'authorization',
  resume: 'authorization',
  token: 'token',
  pushed_authorization_request: 'pushed_authorization_request',
  device_authorization: 'device_authorization',
  code_verification: 'code_verification',
  device_resume: 'code_verification',
  introspection: 'introspection',
  revocation: 'revocation',
  userinfo: 'userinfo',
  end_session: 'end_session',
  end_session_confirm: 'end_session',
  end_session_success: 'end_session',
}

/**
 * oidc-provider's refusal event of each route above: `<route>.error`, but `grant.error` at the token
 * endpoint; a resumed authorization reports `authorization.error`, so `resume` has none of its own.
 */
const REFUSAL_EVENTS = Object.entries(ENDPOINT_OF_ROUTE)
  .filter(([route]) => route !== 'resume')
  .map(([route, endpoint]) => [route === 'token' ? 'grant.error' : `${route}.error`, endpoint] as const)

/**
 * A device's user code the person typed and the provider refused by showing its form again (200
 * in oidc-provider, and no event): not found, expired, already used, or none typed. Answered 400
 * and audited as a refusal, so guessing codes shows in the trail as guessing passwords does.
 */
const USER_CODE_REFUSALS: Readonly<Record<string, string>> = {
  NotFoundError: 'user_code_not_found',
  ExpiredError: 'user_code_expired',
  AlreadyUsedError: 'user_code_used',
  NoCodeError: 'user_code_missing',
}

/**
 * An Abort refused for a code that is refused already: the second of a double click, whose form
 * token the first used (or which found the code decided), or Abort pressed again on a page left
 * open. The person asked for the outcome the code has; the page says so rather than "could not
 * continue". A failed look-up (the database away) leaves the refusal's own page.
 */
async function abortedAgain(ctx: KoaContextWithOIDC): Promise<boolean> {
  const { abort, user_code: typed } = (ctx.oidc.params ?? {}) as { abort?: unknown; user_code?: unknown }
  if (!abort || typeof typed !== 'string' || typed === '') return false
  // oidc-provider's own normalisation of a typed user code (lib/helpers/user_codes.js): upper case, no separators.
  const userCode = typed.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/\W/g, '')
  const code = await ctx.oidc.provider.DeviceCode.findByUserCode(userCode, { ignoreExpiration: true }).catch(
    () => undefined,
  )
  return code?.error === 'access_denied'
}

/**
 * OAuth 2.0 Form Post Response Mode: oidc-provider answers the authorization (a code, or an error
 * it may send back) with a page whose script posts it to the client's redirect URI. The protocol
 * pages' CSP lets forms post to this origin only, so a browser refused that post and the app never
 * got its response. For that one response, the redirect URI's origin joins form-action, once the
 * client is known to have registered it (an error may be answered before oidc-provider checked).
 */
function allowFormPostTarget(ctx: KoaContextWithOIDC): void {
  // The parameters oidc-provider's authorization error handler answers with: the request's once
  // parsed (from a pushed request or a request object too), its raw query or body before that.
  const params = (ctx.oidc?.params ?? (ctx.method === 'POST' ? ctx.oidc?.body : ctx.query) ?? {}) as Record<
    string,
    unknown
  >
  const redirectUri = params.redirect_uri
  if (params.response_mode !== 'form_post' || typeof redirectUri !== 'string') return
  if (ctx.oidc?.client?.redirectUriAllowed(redirectUri)) allowFormTarget(ctx, redirectUri)
}

/** This response's CSP lets its forms (and the redirects after them) reach `uri`, a registered one. */
function allowFormTarget(ctx: Pick<KoaContextWithOIDC, 'response' | 'set'>, uri: string): void {
  const target = formActionTargetOf(uri)
  const csp = ctx.response.get('content-security-policy')
  if (target && csp) ctx.set('content-security-policy', withFormActionTarget(csp, target))
}

export interface OAuthRefusal {
  readonly endpoint: OAuthEndpoint
  readonly error: string
  /** The error's HTTP status: 4xx for a refusal (also one sent back in a redirect), 500 or 503 for a server error. */
  readonly status: number
  readonly clientId: string | null
  readonly requestId: string | null
  readonly ip: string | null
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps
  const api = apiResource(config.publicUrl)
  const fhir = fhirResource(config.publicUrl)
  const secureCookies = config.publicUrl.startsWith('https://')
  const cookieSecret = config.secrets.cookieSecret
  if (!cookieSecret) throw new Error('COOKIE_SECRET is required to sign OAuth cookies')

  const Adapter = createPostgresAdapterFactory({
    db: deps.db,
    keyring: deps.keyring,
    clients: { find: async (id) => withScopeRegistration(await deps.clients.find(id)) },
  })

  const report = deps.onRefusal
  const refusal =
    (endpoint: OAuthEndpoint) =>
    (ctx: KoaContextWithOIDC, err: { error?: string; statusCode?: number }): void => {
      if (!report) return
      const requestId = ctx.res.getHeader('x-request-id') // set by the Fastify mount: the request's id
      report({
        endpoint,
        error: String(err.error ?? 'server_error'),
        status: typeof err.statusCode === 'number' ? err.statusCode : 400,
        clientId: ctx.oidc?.client?.clientId ?? null,
        requestId: typeof requestId === 'string' ? requestId : null,
        ip: clientAddressOf(ctx.req),
      })
    }

  const configuration: Configuration = {
    // Which scopes a client may get is decided here, not by oidc-provider's literal allow-list: a
    // client registered for a SMART scope may ask for any narrower one (`patient/*.rs` covers
    // `patient/Observation.rs`, v1 `patient/Observation.read` and granular scopes), and a refusal
    // must name the scope. So oidc-provider sees every registered scope as allowed, and the
    // `scope` check below (authorization, PAR, device flow) and prepareClientCredentialsScope
    // (client credentials) hold the client to `registered_scope`, its registration.
    adapter: Adapter,
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
        async claims(_use, scope) {
          // SMART App Launch §2.0.10 (fhirUser): the user's FHIR resource, an absolute URL on /fhir/R4.
          const fhirUser = scope.split(' ').includes('fhirUser')
            ? await fhirUserOf(deps.accounts, fhir, sub)
            : undefined
          return {
            sub,
            email: account.email,
            email_verified: account.emailVerified,
            name: account.displayName ?? undefined,
            ...(fhirUser ? { fhirUser } : {}),
          }
        },
      }
    },
    // acr, amr and auth_time let a relying party see how the user authenticated (both factors or one).
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      openid: ['sub', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      fhirUser: ['fhirUser'],
    },
    scopes: [...STATIC_SCOPES],

    // Authorization code only: no implicit, no hybrid (OAuth 2.0 Security BCP, RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // PKCE for every client, confidential ones too (RFC 9700 §2.1.1); oidc-provider supports S256 only.
    pkce: { required: () => true },

    clientAuthMethods: ['none', 'client_secret_basic', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: [...CLIENT_AUTH_SIGNING_ALGS],
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
      // default_scope: RFC 6749 §3.3, the scopes a request without `scope` is given (absent: all of `scope`).
      properties: ['first_party', 'default_scope', 'registered_scope'],
      validator(_ctx, key, value, metadata) {
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean')
          throw new errors.InvalidClientMetadata('first_party must be a boolean')
        if (key === 'default_scope' && value !== undefined) {
          if (typeof value !== 'string')
            throw new errors.InvalidClientMetadata('default_scope must be a space-separated string')
          const registered = String(metadata.registered_scope ?? metadata.scope ?? '').split(' ')
          if (value.split(' ').some((s) => s && !scopeAllowed(registered, s)))
            throw new errors.InvalidClientMetadata(
              'default_scope must name only scopes the client is registered for',
            )
        }
      },
    },

    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 8628: a device without a keyboard is paired by the patient on a phone.
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, form, out, err) => {
          // A form posted without its session (no cookie, or an expired one) fails oidc-provider's
          // xsrf check on a session it never saved; showing the form again would touch that session
          // and make oidc-provider persist a session it cannot (a 500). Start again instead (400).
          const session = ctx.oidc.session as { exp?: unknown; touched?: boolean } | undefined
          if (err && session && typeof session.exp !== 'number') {
            session.touched = false
            sessionLostPage(ctx)
            return
          }
          const refused = err ? USER_CODE_REFUSALS[err.name] : undefined
          if (refused) {
            ctx.status = 400
            refusal('code_verification')(ctx, { error: refused, statusCode: 400 })
          }
          if (err && (err.name === 'AbortedError' || (await abortedAgain(ctx)))) {
            notConnectedPage(ctx)
            return
          }
          await userCodeInputSource(ctx, form, out, err)
        },
        userCodeConfirmSource,
        successSource,
        // oidc-provider stores the requesting device's address and user agent with its code, from
        // Koa's ctx.ip (X-Forwarded-For's leftmost value behind a proxy). Vigil never shows or reads
        // them: store nothing (ADR-0040).
        deviceInfo: () => ({}),
      },
      // RFC 7662: only authenticated (confidential) clients may introspect. RFC 7009: a client may
      // revoke its own tokens, a public one included (the console revokes its refresh token when it
      // signs out); oidc-provider's default policy refuses a token issued to another client.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: KoaContextWithOIDC, client) => client.clientAuthMethod !== 'none',
      },
      revocation: { enabled: true },
      // OpenID Connect RP-Initiated Logout: our pages, not oidc-provider's (see logout-pages.ts).
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      userinfo: { enabled: true },
      // RFC 8707: tokens are issued for one resource server; no `resource` → the Vigil API.
      resourceIndicators: {
        enabled: true,
        // SMART App Launch: an app names the FHIR server with `aud` rather than `resource`, and a
        // backend service asks for `system/*.rs` with neither; both mean the FHIR resource server.
        defaultResource: async (ctx, client, oneOf) => {
          if (client) prepareClientCredentialsScope(ctx, client)
          if (oneOf) return oneOf.includes(api) ? api : (oneOf[0] ?? api)
          // A sign-in that asks for no API or FHIR scope (`openid email profile`) gets an access
          // token for the userinfo endpoint, which refuses a token with a resource audience; the
          // API and FHIR server refuse that token in turn (it has no audience of theirs).
          if (signInOnly(ctx.oidc.params ?? {})) return undefined
          return wantsFhir(ctx.oidc.params ?? {}, fhir) ? fhir : api
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator, client) => {
          if (client) prepareClientCredentialsScope(ctx, client)
          const scopes =
            resourceIndicator === api
              ? API_SCOPES
              : resourceIndicator === fhir
                ? [...new Set([...FHIR_SCOPES, ...smartScopesIn(ctx)])]
                : undefined
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
    // The validators run after oidc-provider has checked the client, redirect URI and PKCE, so an
    // error here is returned to the app's redirect URI (or shown on an error page).
    extraParams: {
      async aud(ctx, value) {
        if (value === undefined) return
        // SMART App Launch §2.0.5: the app names the FHIR server it will call; any other is refused.
        if (typeof value !== 'string' || !URL.canParse(value))
          throw new errors.InvalidRequest(SMART_ERRORS.audMalformed)
        if (value.replace(/\/$/, '') !== fhir) throw new errors.InvalidRequest(SMART_ERRORS.audOther)
      },
      // The scope the request goes on with: the client's default when absent (RFC 6749 §3.3), v1
      // SMART scopes as their v2 form, offline_access kept without prompt=consent (SMART App Launch
      // 2.0 asks for none), and any unknown or unregistered scope refused, by name.
      async scope(ctx, value, client) {
        if (!client) return
        const params = ctx.oidc.params as Record<string, unknown>
        const registered = registeredScopes(client)
        let scope = typeof value === 'string' ? value : defaultScopeOf(registration(client))
        const asked = requestedScope(ctx)
        const prompt = typeof params.prompt === 'string' ? params.prompt.split(' ') : []
        const refreshable =
          client.grantTypeAllowed('refresh_token') && (prompt.length === 0 || prompt.includes('consent'))
        const words = new Set(scope.split(' ').filter(Boolean))
        if (refreshable && asked.includes('offline_access')) words.add('offline_access')
        if (!refreshable) words.delete('offline_access')
        scope = normalizeScopes([...words].join(' '))
        const refused = firstRefusedScope(registered, scope.split(' ').filter(Boolean))
        if (refused)
          throw new errors.InvalidScope(
            `${refused.reason === 'unknown' ? 'unknown scope' : 'requested scope is not allowed'}: ${refused.scope}`,
            refused.scope,
          )
        params.scope = scope || undefined
      },
      // EHR launch (SMART App Launch §2.0.3): an opaque launch id from POST /api/v2/smart/launch,
      // for this client, unexpired and unused, with the `launch` scope.
      async launch(ctx, value, client) {
        if (value === undefined) return
        const params = ctx.oidc.params as Record<string, unknown>
        if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(value))
          throw new errors.InvalidRequest(SMART_ERRORS.launchUnknown)
        if (
          !String(params.scope ?? '')
            .split(' ')
            .includes('launch')
        )
          throw new errors.InvalidScope(SMART_ERRORS.launchScope, 'launch')
        const found = await consumeLaunch(deps.db, value, client?.clientId ?? '', false)
        if (found !== 'ok') throw new errors.InvalidRequest(SMART_ERRORS.launchUnknown)
      },
    },
    // launch/patient (standalone launch): the patient's own record becomes the token's patient
    // context, stored with the opaque token (token.extra.patient, read by the authenticator).
    async extraTokenClaims(ctx, token) {
      // Claims already on the token (set by whoever built it) are kept.
      const existing = (token as { extra?: Record<string, unknown> }).extra
      // Fail closed: a client-credentials token never carries a scope the client is not registered for.
      if (token.kind === 'ClientCredentials' && ctx?.oidc?.client) {
        const refused = firstRefusedScope(
          registeredScopes(ctx.oidc.client),
          [...token.scopes].filter(Boolean),
        )
        if (refused)
          throw new errors.InvalidScope(`requested scope is not allowed: ${refused.scope}`, refused.scope)
      }
      const accountId = 'accountId' in token ? (token.accountId as string | undefined) : undefined
      const grantId = 'grantId' in token ? (token.grantId as string | undefined) : undefined
      if (!accountId) return existing
      // SMART: introspection names the user's FHIR identity when the token has fhirUser.
      const fhirUser = token.scopes.has('fhirUser')
        ? await fhirUserOf(deps.accounts, fhir, accountId)
        : undefined
      const withUser = fhirUser ? { ...existing, fhirUser } : existing
      if (!(token.scopes.has('launch/patient') || token.scopes.has('launch'))) return withUser
      // EHR launch: the launch's patient, recorded on the grant; standalone: the user's own record.
      const launched =
        grantId && token.scopes.has('launch') ? await grantPatient(deps.db, grantId) : undefined
      const patient =
        launched ??
        (token.scopes.has('launch/patient') ? await launchPatient(deps.accounts, accountId) : undefined)
      return patient ? { ...withUser, patient, need_patient_banner: launched === undefined } : withUser
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
    // The token endpoint answers a browser-hosted app from one of its own redirect origins (CORS).
    clientBasedCORS: (_ctx, origin, client) =>
      origin !== 'null' && (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin),
    // SMART App Launch 2.0: offline_access, or online_access (a refresh token that oidc-provider ends
    // with the user's session, as it does for any refresh token issued without offline_access).
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      (code.scopes.has('offline_access') || code.scopes.has('online_access')),

    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    routes: OAUTH_ROUTES,

    // A request that cannot go back to the app (unknown client, unregistered redirect_uri) or a
    // failure: a page a person can read (error-page.ts); the refusal is audited (onRefusal below).
    renderError: renderOAuthError,
  }

  const provider = new Provider(config.publicUrl, configuration)
  provider.proxy = config.trustProxy.length > 0
  // A database outage is 503 with Retry-After on every OAuth endpoint, not the library's 500 (ADR-0025).
  answerDatabaseOutagesWith503(provider)
  // RFC 8693 token exchange for internal services, on oidc-provider's grant-type extension point;
  // signed with the key oidc-provider signs with (the current one, first in the list).
  const [currentKey] = deps.signingKeys
  if (!currentKey) throw new Error('no signing key')
  registerTokenExchange(provider, {
    signingKey: currentKey,
    audiences: INTERNAL_AUDIENCES,
    accounts: deps.accounts,
  })
  if (report) {
    // The events as an emitter's: @types/oidc-provider types one overload per event, and lacks PAR's.
    const events = provider as unknown as EventEmitter
    for (const [event, endpoint] of REFUSAL_EVENTS) events.on(event, refusal(endpoint))
    // An unexpected failure on any of them (oidc-provider's server_error) is audited too, as the
    // server's failure (500, or the 503 a database outage is answered with), not as a refusal.
    provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
      const endpoint = ENDPOINT_OF_ROUTE[ctx.oidc?.route ?? '']
      if (!endpoint) return
      refusal(endpoint)(
        ctx,
        findDatabaseUnavailable(err)
          ? { error: OAUTH_UNAVAILABLE_ERROR, statusCode: 503 }
          : { error: 'server_error', statusCode: 500 },
      )
    })
  }
  // The authorization response, as oidc-provider is about to send it (its handler for the response
  // mode runs right after these events): the code it carries, whatever the mode, and the form post's
  // target. The events run synchronously, before the handler reads the response's CSP.
  const codesIssued = new WeakMap<object, string>()
  const authorizationEvents = provider as unknown as EventEmitter
  // (The device flow's approval reports it too, with no response.)
  authorizationEvents.on('authorization.success', (ctx: KoaContextWithOIDC, out?: { code?: unknown }) => {
    if (typeof out?.code === 'string') codesIssued.set(ctx, out.code)
    allowFormPostTarget(ctx)
  })
  authorizationEvents.on('authorization.error', allowFormPostTarget)
  authorizationEvents.on('server_error', (ctx: KoaContextWithOIDC) => {
    if (ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume') allowFormPostTarget(ctx)
  })
  // RP-initiated logout: the confirmation page (or, with no session, the page that posts it by
  // itself) sends the browser on to the app's post-logout redirect URI, and a browser holds that
  // redirect to the page's form-action too. Once oidc-provider has checked the URI against the
  // client's registration (the page is answered 200; a URI not registered is refused before),
  // its origin joins form-action for that page.
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.oidc?.route !== 'end_session' || ctx.status !== 200) return
    const uri = ctx.oidc.params?.post_logout_redirect_uri
    if (typeof uri === 'string' && ctx.oidc.client?.postLogoutRedirectUriAllowed(uri))
      allowFormTarget(ctx, uri)
  })
  // SMART App Launch §2.0.10: the token response names the launch's patient. oidc-provider has no
  // hook for extra token-response members, so this middleware adds it from the stored token.
  provider.use(async (ctx, next) => {
    await next()
    // EHR launch: the code this authorization issued carries its launch's patient, through the
    // grant, in whichever response mode the app asked for (query, fragment or form_post).
    const code = codesIssued.get(ctx)
    if (
      (ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume') &&
      ctx.oidc.params?.launch &&
      code
    ) {
      await recordGrantContext(
        provider,
        deps.db,
        String(ctx.oidc.params.launch),
        String(ctx.oidc.params.client_id ?? ''),
        code,
      )
      return
    }
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200) return
    let body = ctx.body as Record<string, unknown> | undefined
    if (!body || typeof body.access_token !== 'string' || typeof body.scope !== 'string') return
    let words = body.scope.split(' ')
    // SMART App Launch §scopes for requesting a refresh token: the granted scope names the
    // offline_access / online_access that got the refresh token (oidc-provider lists only the
    // resource's scopes for a FHIR token; fhirclient refuses to refresh without seeing one).
    if (typeof body.refresh_token === 'string') {
      const refresh = await provider.RefreshToken.find(body.refresh_token)
      const lifetimes = ['offline_access', 'online_access'].filter(
        (w) => refresh?.scopes.has(w) && !words.includes(w),
      )
      if (lifetimes.length > 0) {
        words = [...words, ...lifetimes]
        body = { ...body, scope: words.join(' ') }
        ctx.body = body
      }
    }
    if (!words.includes('launch/patient') && !words.includes('launch')) return
    const token = await provider.AccessToken.find(body.access_token as string)
    const extra = (token?.extra ?? {}) as Record<string, unknown>
    // need_patient_banner (SMART §2.0.10, context-banner): a standalone app shows whose record it is;
    // in an EHR launch the EHR already does.
    if (typeof extra.patient === 'string')
      ctx.body = { ...body, patient: extra.patient, need_patient_banner: extra.need_patient_banner !== false }
  })
  // The innermost: a token request's consumption (of a code, refresh token or device code) and the
  // tokens it issued are written together once the grant is complete, before anything above reads
  // them (the adapter's completeTokenRequest, ADR-0013). A refusal then (a replay, a grant revoked
  // meanwhile) or a failure is answered as oidc-provider answers one inside the grant.
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.oidc?.route !== 'token') return
    try {
      await Adapter.completeTokenRequest(ctx as KoaContextWithOIDC, ctx.status === 200)
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) {
        ctx.status = err.statusCode
        ctx.body = { error: err.message, error_description: err.error_description }
        provider.emit('grant.error', ctx, err)
      } else {
        ctx.status = 500
        ctx.body = { error: 'server_error', error_description: 'oops! something went wrong' }
        provider.emit('server_error', ctx, err)
      }
    }
  })
  return provider
}

/** Does this request (authorization or client credentials) address the FHIR server: `aud` names it, or a SMART scope asks for it? */
/** OpenID Connect's own scopes and SMART's identity ones: asked for alone, they are a sign-in. */
const SIGN_IN_SCOPES = new Set([
  'openid',
  'profile',
  'email',
  'address',
  'phone',
  'offline_access',
  'online_access',
  'fhirUser',
])

/** An authorization request that names no resource and asks only for who the user is. */
function signInOnly(params: Record<string, unknown>): boolean {
  if (params.aud !== undefined || params.resource !== undefined) return false
  const scopes = (typeof params.scope === 'string' ? params.scope : '').split(' ').filter(Boolean)
  return scopes.includes('openid') && scopes.every((s) => SIGN_IN_SCOPES.has(s))
}

function wantsFhir(params: Record<string, unknown>, fhir: string): boolean {
  const aud = params.aud
  if (typeof aud === 'string' && aud.replace(/\/$/, '') === fhir) return true
  const scope = typeof params.scope === 'string' ? params.scope : ''
  return scope
    .split(' ')
    .some((s) => parseSmartScope(s) !== undefined || s === 'launch/patient' || s === 'launch')
}

type Ctx = KoaContextWithOIDC

/** The scope as the client sent it (before oidc-provider dropped offline_access). */
function requestedScope(ctx: Ctx): string[] {
  const source =
    ctx.method === 'POST'
      ? (ctx.oidc.body as Record<string, unknown> | undefined)
      : (ctx.query as Record<string, unknown>)
  const raw = source?.['scope']
  return typeof raw === 'string' ? raw.split(' ') : []
}

const prepared = new WeakSet<object>()

/**
 * Client credentials (RFC 6749 §3.3, §4.4.2): no `scope` → the client's registered default; v1
 * SMART scopes → v2; an unknown or unregistered scope → invalid_scope naming it. Runs once per
 * request, from the resource-indicator hooks that oidc-provider calls before it checks the scope.
 */
function prepareClientCredentialsScope(ctx: Ctx, client: NonNullable<Ctx['oidc']['client']>): void {
  if (ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== 'client_credentials' || prepared.has(ctx))
    return
  prepared.add(ctx)
  const params = ctx.oidc.params as Record<string, unknown>
  const scope = typeof params.scope === 'string' ? params.scope : defaultScopeOf(registration(client))
  const normalized = normalizeScopes(scope)
  const refused = firstRefusedScope(registeredScopes(client), normalized.split(' ').filter(Boolean))
  if (refused)
    throw new errors.InvalidScope(
      `${refused.reason === 'unknown' ? 'unknown scope' : 'requested scope is not allowed'}: ${refused.scope}`,
      refused.scope,
    )
  params.scope = normalized || undefined
}

/**
 * The SMART resource scopes this request carries beyond the registered list: any v2 permission
 * set (`.c`, `.cd`, `.s`, `.cruds`: SMART v2 lets an app ask for any of them, and discovery and
 * insufficient_scope name them) and granular scopes (`patient/Observation.rs?category=vital-signs`).
 * The FHIR server accepts them too; whether this client may have them was checked against its
 * registration before (scopeAllowed).
 */
function smartScopesIn(ctx: Ctx): string[] {
  const entities = (ctx.oidc?.entities ?? {}) as Record<string, { scope?: string } | undefined>
  const sources = [
    ctx.oidc?.params?.scope,
    entities.AuthorizationCode?.scope,
    entities.RefreshToken?.scope,
    entities.DeviceCode?.scope,
  ]
  const out = new Set<string>()
  for (const source of sources) {
    if (typeof source !== 'string') continue
    for (const s of source.split(' ')) {
      const smart = parseSmartScope(s)
      if (smart && !smart.v1) out.add(s)
    }
  }
  return [...out]
}

/** A stored client as oidc-provider sees it (see the adapter above): every scope open, the registration kept. */
function withScopeRegistration<T extends { scope?: unknown } | undefined>(client: T): T {
  if (!client) return client
  const registered = typeof client.scope === 'string' ? client.scope : ''
  return { ...client, scope: STATIC_SCOPES.join(' '), registered_scope: registered }
}

function registration(client: { metadata(): unknown }): { scope?: string; default_scope?: unknown } {
  const m = client.metadata() as { registered_scope?: unknown; default_scope?: unknown }
  return {
    scope: typeof m.registered_scope === 'string' ? m.registered_scope : '',
    default_scope: m.default_scope,
  }
}

/** The scopes a client is registered for (its `scope` metadata as stored). */
function registeredScopes(client: { metadata(): unknown }): string[] {
  return String(registration(client).scope ?? '')
    .split(' ')
    .filter(Boolean)
}

/** The patient record a user launches a SMART app for (standalone launch: their own). */
async function launchPatient(accounts: AccountDirectory, userId: string): Promise<string | undefined> {
  return (await accounts.fhirIdentity(userId)).patientId ?? undefined
}
