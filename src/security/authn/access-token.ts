// Bearer access token → Principal, for every API route (in onRequest, before validation).
// Tokens are opaque (ADR-0005): looked up in the authorization server's store on every request,
// so a revoked token or grant stops working on the very next request — no cache delays it.
// RFC 6750 §3.1: a missing, expired, revoked or wrong-audience token answers 401 invalid_token.

import type Provider from 'oidc-provider'
import { AppError } from '../../platform/http/errors.ts'
import type { Authenticate, Principal } from './principal.ts'

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/

export interface PrincipalAccounts {
  findAccount(id: string): Promise<{ status: 'active' | 'disabled'; roles: readonly string[] } | undefined>
}

function invalidToken(): AppError {
  return new AppError('INVALID_TOKEN', 'The access token is missing, expired, revoked or not for this API', {
    headers: { 'www-authenticate': 'Bearer realm="vigil", error="invalid_token"' },
  })
}

export function createAccessTokenAuthenticator(deps: { provider: Provider; audience: string; accounts: PrincipalAccounts }): Authenticate {
  return async (request) => {
    const header = request.headers.authorization
    if (header === undefined) return null
    const match = BEARER.exec(header)
    if (!match?.[1]) throw invalidToken()
    const value = match[1]

    const token = (await deps.provider.AccessToken.find(value)) ?? (await deps.provider.ClientCredentials.find(value))
    if (!token || token.isExpired) throw invalidToken()
    const audiences = Array.isArray(token.aud) ? token.aud : [token.aud]
    if (!audiences.includes(deps.audience)) throw invalidToken()

    const scopes = [...token.scopes]
    const accountId = 'accountId' in token ? (token.accountId as string | undefined) : undefined
    if (accountId) {
      const account = await deps.accounts.findAccount(accountId)
      if (!account || account.status !== 'active') throw invalidToken()
      return { kind: 'user', id: accountId, clientId: token.clientId, scopes, roles: account.roles } satisfies Principal
    }
    return { kind: 'client', id: token.clientId ?? 'unknown', clientId: token.clientId, scopes, roles: [] } satisfies Principal
  }
}
