// A public client's refresh request may leave out client_id (ADR-0026). RFC 6749 §6 asks a client
// to authenticate on refresh only when it is confidential, and §3.2.1 makes client_id optional
// ("MAY") for a client that does not authenticate; SMART's own JavaScript client (fhirclient), on
// its defaults, refreshes with just grant_type and refresh_token. oidc-provider needs to know the
// client before it looks at the grant, so for such a request — form body, no Authorization header,
// no client_id, no client assertion — the client is named from the refresh token itself, and only
// when that client is public (token_endpoint_auth_method "none"). Nothing else changes: the token
// is still checked, rotated and its reuse detected by oidc-provider; a confidential client must
// still authenticate, and an unknown token is refused as before (invalid_grant or invalid_request).

import type { IncomingMessage } from 'node:http'
import type Provider from 'oidc-provider'

/** oidc-provider's own limit for a form body. */
const LIMIT = 56 * 1024

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Hands the body back to oidc-provider's parser as if unread: its reader checks `readable`, the length header and `iterator()`. */
function replay(req: IncomingMessage, body: Buffer): void {
  req.headers['content-length'] = String(body.length)
  Object.defineProperty(req, 'readable', { value: true, configurable: true })
  Object.defineProperty(req, 'iterator', {
    configurable: true,
    value: async function* () {
      yield body
    },
  })
}

/** The client_id of a public client holding this refresh token, or undefined. */
async function publicClientOf(provider: Provider, refreshToken: string): Promise<string | undefined> {
  const token = await provider.RefreshToken.find(refreshToken, { ignoreExpiration: true }).catch(
    () => undefined,
  )
  if (!token?.clientId) return undefined
  const client = await provider.Client.find(token.clientId).catch(() => undefined)
  return client?.clientAuthMethod === 'none' ? client.clientId : undefined
}

/**
 * For a refresh request to the token endpoint that names no client (see above), adds the public
 * client's client_id to the body before oidc-provider reads it. Any other request is left unread.
 */
export async function identifyPublicRefreshClient(provider: Provider, req: IncomingMessage): Promise<void> {
  if (req.method !== 'POST' || req.headers.authorization !== undefined) return
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return
  const length = Number(req.headers['content-length'])
  if (!Number.isInteger(length) || length <= 0 || length > LIMIT) return
  const body = await readAll(req)
  const params = new URLSearchParams(body.toString('utf8'))
  const refreshToken = params.get('refresh_token')
  if (
    params.get('grant_type') === 'refresh_token' &&
    refreshToken &&
    !params.has('client_id') &&
    !params.has('client_assertion')
  ) {
    const clientId = await publicClientOf(provider, refreshToken)
    if (clientId) {
      params.set('client_id', clientId)
      replay(req, Buffer.from(params.toString(), 'utf8'))
      return
    }
  }
  replay(req, body)
}
