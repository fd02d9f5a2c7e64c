// OAuth 2.0 Token Exchange (RFC 8693): an internal service (a confidential client) trades an access
// token it was given for a short-lived JWT addressed to one internal audience, carrying at most
// the subject token's scopes and lifetime. It never widens what the subject token allows.
//
// Registered through oidc-provider's own extension point (registerGrantType), so the token
// endpoint is oidc-provider's: before this handler runs it has parsed the body, authenticated the
// client (client_secret_basic or private_key_jwt), rejected duplicated parameters, and refused a
// client whose registered grant_types lack this grant type. The handler only decides what may be
// issued.
//
// The subject may be a user's access token or a client-credentials token: the handler treats both
// the same way (a user's token carries the account as `sub`, a client's token its client id).

import { randomUUID } from 'node:crypto'
import { importJWK, SignJWT, type JWK } from 'jose'
import type Provider from 'oidc-provider'
import { errors, type TokenEndpointGrantContext } from 'oidc-provider'
import { SIGNING_ALG } from './signing-keys.ts'

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

/** The longest an exchanged token lives; never longer than the subject token it came from. */
export const EXCHANGED_TOKEN_MAX_TTL_SECONDS = 300

/** RFC 8693 §2.1 parameters. Registered so oidc-provider keeps them (it strips unknown ones). */
const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'audience',
  'scope',
  'resource',
  'requested_token_type',
  'actor_token',
  'actor_token_type',
] as const
type ExchangeParams = Partial<Record<(typeof PARAMETERS)[number], string>>

export interface TokenExchangeDeps {
  /** The provider's current signing key (private JWK): the first of loadSigningKeys(), as oidc-provider picks it. */
  readonly signingKey: JWK
  /** The audiences an exchanged token may name (INTERNAL_AUDIENCES). */
  readonly audiences: readonly string[]
  /** A user's token is exchanged only while the account is active. */
  readonly accounts: {
    findAccount(id: string): Promise<{ readonly status: 'active' | 'disabled' } | undefined>
  }
}

export function registerTokenExchange(provider: Provider, deps: TokenExchangeDeps): void {
  const audiences = new Set(deps.audiences)
  const kid = deps.signingKey.kid
  if (!kid) throw new Error('the token exchange signing key needs a kid')
  // Imported on first use (and kept), so a bad key fails the request, not as an unhandled rejection.
  let privateKey: ReturnType<typeof importJWK> | undefined

  /** The subject token if it is an active Vigil access token, with the same checks introspection makes. */
  async function findActiveSubject(value: string) {
    const token = (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value))
    if (!token || token.isExpired) return undefined
    // A sender-constrained token may be used only by its holder; exchanging it would shed the binding.
    if (token.isSenderConstrained()) return undefined
    if (token.kind === 'AccessToken') {
      const grant = await provider.Grant.find(token.grantId)
      if (!grant || grant.clientId !== token.clientId || grant.accountId !== token.accountId) return undefined
      const account = await deps.accounts.findAccount(token.accountId)
      if (account?.status !== 'active') return undefined
      return { token, sub: token.accountId }
    }
    if (!token.clientId) return undefined
    return { token, sub: token.clientId }
  }

  async function exchange(ctx: TokenEndpointGrantContext<ExchangeParams>): Promise<void> {
    const { client, params } = ctx.oidc

    // RFC 6749 §5.2: a public client cannot prove who it is, so it may not act for anyone.
    if (client.clientAuthMethod === 'none')
      throw new errors.UnauthorizedClient('token exchange is for confidential clients only')

    if (!params.subject_token) throw new errors.InvalidRequest("missing required parameter 'subject_token'")
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE)
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`)
    // RFC 8693 §2.1: the actor is the authenticated client (it appears as `act`); no separate actor token.
    if (params.actor_token !== undefined || params.actor_token_type !== undefined)
      throw new errors.InvalidRequest('actor_token is not supported')
    if (
      params.requested_token_type !== undefined &&
      params.requested_token_type !== JWT_TOKEN_TYPE &&
      params.requested_token_type !== ACCESS_TOKEN_TYPE
    ) {
      throw new errors.InvalidRequest(`requested_token_type must be ${JWT_TOKEN_TYPE}`)
    }
    // RFC 8693 §2.2.2: an unknown or unwilling target is invalid_target. Targets are named by `audience` only.
    if (params.resource !== undefined)
      throw new errors.InvalidTarget('name the internal service with audience, not resource')
    if (!params.audience) throw new errors.InvalidRequest("missing required parameter 'audience'")
    if (!audiences.has(params.audience)) throw new errors.InvalidTarget('audience is not an internal service')

    const subject = await findActiveSubject(params.subject_token)
    if (!subject) throw new errors.InvalidGrant('subject_token is not an active access token')

    // Never widen: every requested scope must already be in the subject token; none requested →
    // exactly the subject token's scopes.
    const subjectScopes = [...subject.token.scopes].filter(Boolean)
    const requested = [...new Set((params.scope ?? '').split(' ').filter(Boolean))]
    const extra = requested.filter((s) => !subjectScopes.includes(s))
    if (extra.length > 0)
      throw new errors.InvalidScope('requested scope exceeds the subject token', extra.join(' '))
    const scope = (requested.length > 0 ? requested : subjectScopes).join(' ')

    const iat = Math.floor(Date.now() / 1000)
    // Never extend: the exchanged token dies no later than the token it was exchanged for.
    const exp = Math.min(iat + EXCHANGED_TOKEN_MAX_TTL_SECONDS, subject.token.exp ?? iat)
    if (exp <= iat) throw new errors.InvalidGrant('subject_token is not an active access token')

    // RFC 9068 §2: the JWT access token profile (typ at+jwt, iss, sub, aud, client_id, iat, exp,
    // jti, scope); RFC 8693 §4.1: `act` names the client acting for the subject.
    const accessToken = await new SignJWT({
      scope: scope || undefined,
      client_id: client.clientId,
      act: { sub: client.clientId },
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'at+jwt' })
      .setIssuer(provider.issuer)
      .setSubject(subject.sub)
      .setAudience(params.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await (privateKey ??= importJWK(deps.signingKey, SIGNING_ALG)))

    ctx.body = {
      access_token: accessToken,
      issued_token_type: JWT_TOKEN_TYPE,
      // RFC 8693 §2.2.1 says N_A for a token that is not an access token. This JWT is one: the
      // internal service receives it in `Authorization: Bearer`, so the type that tells the client
      // how to present it is Bearer (RFC 6750).
      token_type: 'Bearer',
      expires_in: exp - iat,
      ...(scope ? { scope } : {}),
    }
  }

  provider.registerGrantType<ExchangeParams>(TOKEN_EXCHANGE_GRANT_TYPE, exchange, PARAMETERS)
}
