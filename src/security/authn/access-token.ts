// Bearer access token → Principal, for every API route (in onRequest, before validation).
// Tokens are opaque (ADR-0005): looked up in the authorization server's store — once, under either
// model (issue 17) — or found in the principal cache, which every revocation, disabled account,
// unbound device or changed client empties at once here and within milliseconds on every other
// instance (principal-cache.ts, ADR-0029), so a revoked token stops working on the very next request.
// RFC 6750 §3.1: a missing, expired, revoked or wrong-audience token answers 401 invalid_token.
//
// Kinds (ADR-0008): a token whose client is a registered device is the device (whether it came
// from client credentials or from the device authorization grant a patient approved); a token
// with a user is that user; any other client token is a backend service.

import type { FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { AppError } from '../../platform/http/errors.ts'
import type { Authenticate, Principal, PrincipalDirectory } from './principal.ts'
import type { PrincipalCache } from './principal-cache.ts'

/** The token store, read in one statement (oauth-server/postgres-adapter.ts findBearerToken). */
export interface BearerTokens {
  /** The token's keyed hash: the id it is stored, and cached, under. */
  idOf(value: string): string
  find(
    value: string,
  ): Promise<{ model: 'AccessToken' | 'ClientCredentials'; payload: Record<string, unknown> } | undefined>
}

/** oidc-provider's own checks of a stored payload (format, expiry) and its model instance, as its find() does after the adapter. */
interface TokenModel {
  verify(
    stored: Record<string, unknown>,
    options?: { ignoreExpiration?: boolean },
  ): Promise<Record<string, unknown>>
  instantiate(payload: Record<string, unknown>): Token
}

type Token = InstanceType<Provider['AccessToken']> | InstanceType<Provider['ClientCredentials']>

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/

export interface PrincipalAccounts {
  findAccount(id: string): Promise<{ status: 'active' | 'disabled'; roles: readonly string[] } | undefined>
}

function invalidToken(): AppError {
  return new AppError('INVALID_TOKEN', 'The access token is missing, expired, revoked or not for this API', {
    headers: { 'www-authenticate': 'Bearer realm="vigil", error="invalid_token"' },
  })
}

/**
 * The resource a request is for, from the route the router matched (ADR-0012): the FHIR server's
 * for routes registered under /fhir/, the API's for every other. Never from the raw URL — the
 * router decodes percent-encoding and accepts the absolute form (`GET http://host/fhir/R4/Patient`),
 * so a test on `request.url` and the route that answers can disagree. A request that matched no
 * route has no audience: its token is refused.
 */
export function routeAudience(resources: {
  readonly api: string
  readonly fhir: string
}): (request: FastifyRequest) => string | undefined {
  return (request) => {
    const route = request.routeOptions.url
    if (route === undefined) return undefined
    return route === '/fhir' || route.startsWith('/fhir/') ? resources.fhir : resources.api
  }
}

export interface AccessTokenAuthenticatorDeps {
  readonly provider: Provider
  /** The resource a route belongs to: the API's, or (for /fhir/R4 routes) the FHIR server's, decided from the matched route (routeAudience). A token for one is refused at the other. */
  readonly audience: string | ((request: FastifyRequest) => string | undefined)
  readonly accounts: PrincipalAccounts
  readonly directory?: PrincipalDirectory
  /** One statement per look-up instead of AccessToken.find then ClientCredentials.find. */
  readonly tokens?: BearerTokens
  /** Verified principals by token hash; needs tokens (for the hash). */
  readonly cache?: PrincipalCache
}

export function createAccessTokenAuthenticator(deps: AccessTokenAuthenticatorDeps): Authenticate {
  /** The stored token, verified by its model; cacheable unless it is bound to a browser session. */
  async function loadToken(value: string): Promise<{ token: Token | undefined; cacheable: boolean }> {
    if (!deps.tokens) {
      return {
        token:
          (await deps.provider.AccessToken.find(value)) ??
          (await deps.provider.ClientCredentials.find(value)),
        cacheable: false,
      }
    }
    const stored = await deps.tokens.find(value)
    if (!stored) return { token: undefined, cacheable: false }
    // A token that ends with its browser session: oidc-provider's own find checks the session too.
    if (stored.model === 'AccessToken' && stored.payload.expiresWithSession)
      return { token: await deps.provider.AccessToken.find(value), cacheable: false }
    const model = deps.provider[stored.model] as unknown as TokenModel
    try {
      return { token: model.instantiate(await model.verify(stored.payload)), cacheable: true }
    } catch {
      return { token: undefined, cacheable: false }
    }
  }

  return async (request) => {
    const header = request.headers.authorization
    if (header === undefined) return null
    const match = BEARER.exec(header)
    if (!match?.[1]) throw invalidToken()
    const value = match[1]
    const audience = typeof deps.audience === 'string' ? deps.audience : deps.audience(request)

    const cache = deps.tokens && deps.cache ? deps.cache : undefined
    const tokenId = cache ? (deps.tokens as BearerTokens).idOf(value) : ''
    if (cache) {
      const hit = cache.get(tokenId)
      if (hit) {
        if (audience === undefined || !hit.audiences.includes(audience)) throw invalidToken()
        return hit.principal
      }
    }
    const generation = cache?.generation() ?? 0

    const { token, cacheable } = await loadToken(value)
    if (!token || token.isExpired) throw invalidToken()
    const audiences = (Array.isArray(token.aud) ? token.aud : [token.aud]).filter(
      (a): a is string => typeof a === 'string',
    )
    if (audience === undefined || !audiences.includes(audience)) throw invalidToken()
    const { principal, accountId, deviceId } = await principalOf(token)
    const exp = typeof token.exp === 'number' ? token.exp * 1000 : undefined
    if (cache && cacheable && exp !== undefined)
      cache.set(tokenId, { principal, audiences, tokenExpiresAt: exp, accountId, deviceId }, generation)
    return principal
  }

  async function principalOf(
    token: Token,
  ): Promise<{ principal: Principal; accountId?: string | undefined; deviceId?: string | undefined }> {
    const scopes = [...token.scopes]
    const clientId = token.clientId
    const accountId = 'accountId' in token ? (token.accountId as string | undefined) : undefined

    const device = clientId && deps.directory ? await deps.directory.deviceForClient(clientId) : undefined
    if (device) {
      if (device.status !== 'active') throw invalidToken()
      // Paired through the device authorization grant: the token speaks for the patient who
      // approved it, so it is good only while the device is bound to that patient's record.
      if (accountId && deps.directory) {
        const approver = await deps.directory.user(accountId)
        if (!approver?.patientId || approver.patientId !== device.patientId) throw invalidToken()
      }
      const principal = {
        kind: 'device',
        id: device.id,
        clientId,
        scopes,
        roles: [],
        memberships: [],
        patientId: device.patientId,
        organisationId: device.organisationId,
        ...(device.boundPatient ? { boundPatient: device.boundPatient } : {}),
      } satisfies Principal
      return { principal, accountId, deviceId: device.id }
    }
    if (accountId) {
      const account = await deps.accounts.findAccount(accountId)
      if (!account || account.status !== 'active') throw invalidToken()
      const facts = deps.directory ? await deps.directory.user(accountId) : undefined
      // A SMART app launched for a patient carries that patient in its grant (launch/patient).
      const launched =
        'extra' in token
          ? ((token.extra as Record<string, unknown> | undefined)?.['patient'] as string | undefined)
          : undefined
      const principal = {
        kind: 'user',
        id: accountId,
        clientId,
        scopes,
        roles: account.roles,
        memberships: facts?.memberships ?? account.roles.map((role) => ({ role, organisationId: null })),
        patientId: facts?.patientId ?? null,
        launchPatientId: launched ?? null,
        organisationId: null,
      } satisfies Principal
      return { principal, accountId }
    }
    const organisationId =
      clientId && deps.directory ? await deps.directory.clientOrganisation(clientId) : null
    return {
      principal: {
        kind: 'client',
        id: clientId ?? 'unknown',
        clientId,
        scopes,
        roles: [],
        memberships: [],
        patientId: null,
        organisationId,
      } satisfies Principal,
    }
  }
}
