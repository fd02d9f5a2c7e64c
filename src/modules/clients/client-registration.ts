// What a client registration may say, and the oidc-provider metadata it becomes. Shared by
// `vigil client create` and the admin API, so a client is held to the same rules whichever way it
// is registered, and nothing the authorization server would refuse (or serve insecurely) is stored.

import { createPublicKey, type JsonWebKey } from 'node:crypto'
import type { ClientMetadata } from 'oidc-provider'
import type { ProblemFieldError } from '../../platform/http/errors.ts'
import {
  API_SCOPES,
  FHIR_SCOPES,
  OIDC_SCOPES,
  TOKEN_EXCHANGE_GRANT_TYPE,
} from '../../security/oauth-server/index.ts'

/** public: authorization code + PKCE without a secret (native and browser apps, RFC 8252);
 *  confidential: a server-generated secret (client_secret_basic); private-key-jwt: RFC 7523. */
export const CLIENT_TYPES = ['public', 'confidential', 'private-key-jwt'] as const
export type ClientType = (typeof CLIENT_TYPES)[number]

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'

/** The grant types the authorization server serves (provider.ts): no implicit, no password. */
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  DEVICE_CODE_GRANT_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
] as const

export const CLIENT_SCOPES: readonly string[] = [...OIDC_SCOPES, ...API_SCOPES, ...FHIR_SCOPES]

export const CLIENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._~-]{2,127}$'

export interface ClientRegistration {
  readonly clientId: string
  readonly type: ClientType
  readonly grantTypes: readonly string[]
  readonly redirectUris: readonly string[]
  /** Space-separated scopes the client may ask for. */
  readonly scope: string
  /** The public keys of a private-key-jwt client. */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] } | undefined
  /** Shown on the consent page. */
  readonly name?: string | undefined
  /** A Vigil app: users are not asked to consent. */
  readonly firstParty?: boolean | undefined
}

// RFC 8252 §8.3: loopback IP literals, not "localhost" (which a resolver or firewall may redirect).
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]'])
// RFC 8252 §7.1: a private-use scheme is a reverse domain name the app controls, such as com.example.app.
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/
// Private keys never belong in a registration: a JWK member that only private keys carry.
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

// The key types a private_key_jwt client may sign its assertions with (RFC 7518 §6; RFC 8037).
const SIGNING_KEY_TYPES = new Set(['RSA', 'EC', 'OKP'])
const KEY_MATERIAL_MEMBERS = ['n', 'e', 'x', 'y']
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** Why a JWK is refused as a client's public key, or undefined when it is a usable public key.
 *  The key is parsed the way the token endpoint will use it (Node's crypto), so a key that could
 *  never verify an assertion is refused at registration, not at the device's first token request.
 *  Never echoes key material. */
export function publicJwkProblem(key: unknown): string | undefined {
  if (key === null || typeof key !== 'object' || typeof (key as { kty?: unknown }).kty !== 'string')
    return 'must be a JWK with a kty'
  if (PRIVATE_JWK_MEMBERS.some((m) => m in key))
    return 'must be a public key: private key members are refused'
  if (!SIGNING_KEY_TYPES.has((key as { kty: string }).kty)) return 'kty must be RSA, EC or OKP'
  // Node's base64url decoder skips characters outside the alphabet; RFC 7515 §2 does not.
  for (const member of KEY_MATERIAL_MEMBERS) {
    const value = (key as Record<string, unknown>)[member]
    if (value !== undefined && (typeof value !== 'string' || !BASE64URL.test(value)))
      return `${member} must be base64url without padding (RFC 7515 §2)`
  }
  try {
    const parsed = createPublicKey({ key: key as JsonWebKey, format: 'jwk' })
    if (parsed.type !== 'public') return 'must be a public key'
    const bits = parsed.asymmetricKeyDetails?.modulusLength
    if (bits !== undefined && bits < 2048) return 'an RSA key must have a modulus of at least 2048 bits'
  } catch {
    return 'is not a valid public key of its kty (RFC 7517, RFC 7518 §6)'
  }
  return undefined
}

/** Why a redirect URI is refused for a client of this type, or undefined when it is acceptable.
 *  Never echoes the URI: the pointer says which one. */
export function redirectUriProblem(uri: string, type: ClientType): string | undefined {
  const url = URL.parse(uri)
  if (!url) return 'must be an absolute URI'
  // RFC 6749 §3.1.2: no fragment; credentials in a redirect URI would be sent to every browser.
  if (uri.includes('#')) return 'must not contain a fragment'
  if (url.username || url.password) return 'must not contain user information'
  const native = type === 'public'
  switch (url.protocol) {
    case 'https:':
      if (!url.hostname) return 'must name a host'
      // RFC 8252 §7.2: a native app's claimed https URI is a real host, never the loopback.
      if (native && LOOPBACK_HOSTS.has(url.hostname))
        return 'a loopback redirect URI uses http (RFC 8252 §7.3)'
      return undefined
    case 'http:':
      // RFC 9700 §2.1 / RFC 8252 §7.3: plain http only to the device itself, only for native apps.
      if (!native) return 'must use https (http only for loopback redirect URIs of public clients)'
      if (!LOOPBACK_HOSTS.has(url.hostname))
        return 'http is allowed only for loopback IP literals (127.0.0.1 or [::1]) (RFC 8252 §7.3, §8.3)'
      return undefined
    default:
      if (!native) return 'must use https (private-use schemes only for public clients)'
      if (!PRIVATE_USE_SCHEME.test(url.protocol))
        return 'must use https, loopback http or a private-use scheme in reverse domain form such as com.example.app:/callback (RFC 8252 §7.1)'
      return undefined
  }
}

/** Everything wrong with a registration, as pointers into it; empty when it may be stored. */
export function checkClientRegistration(reg: ClientRegistration): ProblemFieldError[] {
  const problems: ProblemFieldError[] = []
  const add = (pointer: string, detail: string) => problems.push({ pointer, detail })

  if (!new RegExp(CLIENT_ID_PATTERN).test(reg.clientId))
    add(
      '/clientId',
      'must be 3 to 128 letters, digits, ".", "_", "~" or "-", starting with a letter or digit',
    )
  if (!(CLIENT_TYPES as readonly string[]).includes(reg.type))
    add('/type', `must be one of ${CLIENT_TYPES.join(', ')}`)

  if (reg.grantTypes.length === 0) add('/grantTypes', 'must name at least one grant type')
  reg.grantTypes.forEach((grant, i) => {
    if (!(GRANT_TYPES as readonly string[]).includes(grant))
      add(`/grantTypes/${i}`, 'not a grant type this server supports')
  })
  if (new Set(reg.grantTypes).size !== reg.grantTypes.length)
    add('/grantTypes', 'must not repeat a grant type')
  const grants = new Set(reg.grantTypes)
  // RFC 6749 §4.4: the client credentials grant is for confidential clients only; a token exchange
  // (RFC 8693 §2.1) authenticates the client as well.
  if (reg.type === 'public') {
    for (const grant of ['client_credentials', TOKEN_EXCHANGE_GRANT_TYPE])
      if (grants.has(grant))
        add('/grantTypes', `${grant} needs an authenticated (confidential or private-key-jwt) client`)
  }
  if (
    grants.has('refresh_token') &&
    !grants.has('authorization_code') &&
    !grants.has(DEVICE_CODE_GRANT_TYPE)
  ) {
    add(
      '/grantTypes',
      'refresh_token needs authorization_code or the device code grant, which issue refresh tokens',
    )
  }

  if (grants.has('authorization_code') && reg.redirectUris.length === 0)
    add('/redirectUris', 'an authorization_code client needs at least one redirect URI')
  reg.redirectUris.forEach((uri, i) => {
    const problem = redirectUriProblem(uri, reg.type)
    if (problem) add(`/redirectUris/${i}`, problem)
  })
  if (new Set(reg.redirectUris).size !== reg.redirectUris.length)
    add('/redirectUris', 'must not repeat a redirect URI')

  const scopes = reg.scope.split(' ').filter(Boolean)
  if (scopes.length === 0) add('/scope', 'must name at least one scope')
  if (scopes.some((s) => !CLIENT_SCOPES.includes(s)))
    add('/scope', `each scope must be one of ${CLIENT_SCOPES.join(' ')}`)

  if (reg.type === 'private-key-jwt') {
    const keys: readonly unknown[] = Array.isArray(reg.jwks?.keys) ? reg.jwks.keys : []
    if (keys.length === 0) add('/jwks', 'a private-key-jwt client needs a JWKS with at least one public key')
    keys.forEach((key, i) => {
      const problem = publicJwkProblem(key)
      if (problem) add(`/jwks/keys/${i}`, problem)
    })
  } else if (reg.jwks !== undefined) {
    add('/jwks', 'only a private-key-jwt client has a JWKS')
  }
  return problems
}

/** The metadata oidc-provider serves the client from (the secret, if any, is stored apart, sealed). */
export function clientMetadata(reg: ClientRegistration): ClientMetadata {
  return {
    client_id: reg.clientId,
    ...(reg.name ? { client_name: reg.name } : {}),
    ...(reg.type === 'public' ? { application_type: 'native', token_endpoint_auth_method: 'none' } : {}),
    ...(reg.type === 'confidential' ? { token_endpoint_auth_method: 'client_secret_basic' } : {}),
    ...(reg.type === 'private-key-jwt'
      ? { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [...(reg.jwks?.keys ?? [])] } }
      : {}),
    grant_types: [...reg.grantTypes],
    response_types: reg.grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...reg.redirectUris],
    scope: reg.scope,
    ...(reg.firstParty ? { first_party: true } : {}),
  } as ClientMetadata
}

/** A confidential client-credentials client (a backend service, a load generator): its metadata. */
export function serviceClientMetadata(clientId: string, scope: string): ClientMetadata {
  return clientMetadata({
    clientId,
    type: 'confidential',
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scope,
  })
}

/** The registration type of stored metadata (the inverse of clientMetadata's auth method). */
export function clientTypeOf(metadata: ClientMetadata): ClientType {
  if (metadata.token_endpoint_auth_method === 'none') return 'public'
  if (metadata.token_endpoint_auth_method === 'private_key_jwt') return 'private-key-jwt'
  return 'confidential'
}
