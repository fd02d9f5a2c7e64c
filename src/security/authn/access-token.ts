// Bearer access token → Principal, for every API route (in onRequest, before validation).
// Tokens are opaque (ADR-0005): looked up in the authorization server's store on every request,
// so a revoked token or grant stops working on the very next request — no cache delays it.
// RFC 6750 §3.1: a missing, expired, revoked or wrong-audience token answers 401 invalid_token.
//
// Kinds (ADR-0008): a token whose client is a registered device is the device (whether it came
// from client credentials or from the device authorization grant a patient approved); a token
// with a user is that user; any other client token is a backend service.

import type { FastifyRequest } from 'fastify'
import type Provider from 'oidc-provider'
import { AppError } from '../../platform/http/errors.ts'
import type { Authenticate, Principal, PrincipalDirectory } from './principal.ts'

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
export function routeAudience(resources: { readonly api: string; readonly fhir: string }): (request: FastifyRequest) => string | undefined {
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
}

export function createAccessTokenAuthenticator(deps: AccessTokenAuthenticatorDeps): Authenticate {
  return async (request) => {
    const header = request.headers.authorization
    if (header === undefined) return null
    const match = BEARER.exec(header)
    if (!match?.[1]) throw invalidToken()
    const value = match[1]

    const token = (await deps.provider.AccessToken.find(value)) ?? (await deps.provider.ClientCredentials.find(value))
    if (!token || token.isExpired) throw invalidToken()
    const audiences = Array.isArray(token.aud) ? token.aud : [token.aud]
    const audience = typeof deps.audience === 'string' ? deps.audience : deps.audience(request)
    if (audience === undefined || !audiences.includes(audience)) throw invalidToken()

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
      return { kind: 'device', id: device.id, clientId, scopes, roles: [], memberships: [], patientId: device.patientId, organisationId: device.organisationId } satisfies Principal
    }
    if (accountId) {
      const account = await deps.accounts.findAccount(accountId)
      if (!account || account.status !== 'active') throw invalidToken()
      const facts = deps.directory ? await deps.directory.user(accountId) : undefined
      // A SMART app launched for a patient carries that patient in its grant (launch/patient).
      const launched = 'extra' in token ? ((token.extra as Record<string, unknown> | undefined)?.['patient'] as string | undefined) : undefined
      return {
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
    }
    const organisationId = clientId && deps.directory ? await deps.directory.clientOrganisation(clientId) : null
    return { kind: 'client', id: clientId ?? 'unknown', clientId, scopes, roles: [], memberships: [], patientId: null, organisationId } satisfies Principal
  }
}
