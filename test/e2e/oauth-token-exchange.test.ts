// Token exchange (RFC 8693) for internal services, driven by openid-client: a service trades
// another party's access token for a short-lived JWT addressed to an internal audience, with at
// most the subject token's scopes. The subject tokens here are client-credentials tokens (the
// login side is built elsewhere); a user's token goes through the same handler the same way,
// with the account as `sub`.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import * as client from 'openid-client'
import { INTERNAL_AUDIENCES, TOKEN_EXCHANGE_GRANT_TYPE } from '../../src/security/oauth-server/index.ts'
import { oauthError, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const [DEVICE_DATA, AUDIT] = INTERNAL_AUDIENCES

describe('token exchange (RFC 8693) for internal services', () => {
  let s: OAuthTestServer
  const secret = 'a-long-random-client-secret-0123456789abcdef'
  const subjectClientId = `dev-${randomUUID()}`
  const serviceId = `svc-${randomUUID()}`
  const publicId = `pub-${randomUUID()}`
  const noGrantId = `cc-${randomUUID()}`
  let service: client.Configuration
  let subjectClient: client.Configuration

  const subjectToken = async (scope = 'account:read device-data:read') =>
    (await client.clientCredentialsGrant(subjectClient, { scope })).access_token
  const exchange = (config: client.Configuration, params: Record<string, string>) =>
    client.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT_TYPE, params)

  before(async () => {
    s = await startOAuthTestServer()
    const confidential = {
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic' as const,
    }
    await s.clients.upsert({
      clientId: subjectClientId,
      secret,
      metadata: {
        client_id: subjectClientId,
        ...confidential,
        grant_types: ['client_credentials'],
        scope: 'account:read device-data:read device-data:write',
      },
    })
    await s.clients.upsert({
      clientId: serviceId,
      secret,
      metadata: { client_id: serviceId, ...confidential, grant_types: [TOKEN_EXCHANGE_GRANT_TYPE] },
    })
    await s.clients.upsert({
      clientId: noGrantId,
      secret,
      metadata: {
        client_id: noGrantId,
        ...confidential,
        grant_types: ['client_credentials'],
        scope: 'account:read',
      },
    })
    await s.clients.upsert({
      clientId: publicId,
      metadata: {
        client_id: publicId,
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        grant_types: [TOKEN_EXCHANGE_GRANT_TYPE],
      },
    })
    subjectClient = await s.discover(subjectClientId, client.ClientSecretBasic(secret))
    service = await s.discover(serviceId, client.ClientSecretBasic(secret))
  })
  after(() => s.close())

  test('[SRS-OAUTH-007] a service exchanges an access token for a JWT for an internal audience: signed by the server, same scopes, act = the service, at most 5 minutes', async () => {
    assert.ok(
      service.serverMetadata().grant_types_supported?.includes(TOKEN_EXCHANGE_GRANT_TYPE),
      'advertised in discovery',
    )
    const subject = await subjectToken()
    const subjectExp = (await client.tokenIntrospection(subjectClient, subject)).exp

    const res = await exchange(service, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: DEVICE_DATA,
    })
    assert.equal(res.issued_token_type, JWT_TOKEN_TYPE)
    assert.equal(res.token_type.toLowerCase(), 'bearer')
    assert.equal(
      res.scope,
      'account:read device-data:read',
      'no scope requested → the subject token’s scopes',
    )
    assert.ok(res.expires_in !== undefined && res.expires_in > 0 && res.expires_in <= 300)
    assert.equal(res.refresh_token, undefined)

    const jwks = createRemoteJWKSet(new URL(String(service.serverMetadata().jwks_uri)))
    const { payload, protectedHeader } = await jwtVerify(res.access_token, jwks, {
      issuer: s.issuer,
      audience: DEVICE_DATA,
      algorithms: ['ES256'],
      typ: 'at+jwt',
    })
    assert.equal(protectedHeader.alg, 'ES256')
    assert.equal(payload.sub, subjectClientId, 'the subject is the party whose token was exchanged')
    assert.equal(payload.client_id, serviceId)
    assert.deepEqual(payload.act, { sub: serviceId }, 'RFC 8693 §4.1 actor claim')
    assert.equal(payload.aud, DEVICE_DATA)
    assert.equal(payload.scope, 'account:read device-data:read')
    assert.equal(typeof payload.jti, 'string')
    assert.ok(
      payload.exp !== undefined &&
        payload.iat !== undefined &&
        payload.exp - payload.iat <= 300 &&
        payload.exp > payload.iat,
    )
    assert.ok(subjectExp !== undefined && payload.exp <= subjectExp, 'never outlives the subject token')
  })

  test('[SRS-OAUTH-007] the requested scopes are issued when the subject token has them; one it lacks is invalid_scope (never widened)', async () => {
    const subject = await subjectToken()
    const narrowed = await exchange(service, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: AUDIT,
      scope: 'device-data:read',
    })
    assert.equal(narrowed.scope, 'device-data:read')
    assert.equal(decodeJwt(narrowed.access_token).scope, 'device-data:read')

    // device-data:write is allowed to the subject's client, but not in this token: still refused.
    for (const scope of ['device-data:write', 'device-data:read device-data:write', 'admin']) {
      await assert.rejects(
        exchange(service, {
          subject_token: subject,
          subject_token_type: ACCESS_TOKEN_TYPE,
          audience: DEVICE_DATA,
          scope,
        }),
        (err) => oauthError(err) === 'invalid_scope',
      )
    }
  })

  test('[SRS-OAUTH-007] an audience that is not an internal service (or none, or the public API) is refused', async () => {
    const subject = await subjectToken()
    for (const audience of ['urn:vigil:internal:unknown', `${s.issuer}/api`]) {
      await assert.rejects(
        exchange(service, { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, audience }),
        (err) => oauthError(err) === 'invalid_target',
      )
    }
    await assert.rejects(
      exchange(service, { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE }),
      (err) => oauthError(err) === 'invalid_request',
    )
    await assert.rejects(
      exchange(service, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: DEVICE_DATA,
        resource: `${s.issuer}/api`,
      }),
      (err) => oauthError(err) === 'invalid_target',
    )
  })

  test('[SRS-OAUTH-007] a revoked or made-up subject token is invalid_grant; another subject_token_type is invalid_request', async () => {
    const revoked = await subjectToken()
    await client.tokenRevocation(subjectClient, revoked)
    for (const subject_token of [revoked, 'not-a-token', randomUUID()]) {
      await assert.rejects(
        exchange(service, { subject_token, subject_token_type: ACCESS_TOKEN_TYPE, audience: DEVICE_DATA }),
        (err) => oauthError(err) === 'invalid_grant',
      )
    }
    const subject = await subjectToken()
    await assert.rejects(
      exchange(service, {
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        audience: DEVICE_DATA,
      }),
      (err) => oauthError(err) === 'invalid_request',
    )
    // An exchanged JWT is not a Vigil access token either: it cannot be exchanged again.
    const jwt = (
      await exchange(service, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: DEVICE_DATA,
      })
    ).access_token
    await assert.rejects(
      exchange(service, { subject_token: jwt, subject_token_type: ACCESS_TOKEN_TYPE, audience: AUDIT }),
      (err) => oauthError(err) === 'invalid_grant',
    )
  })

  test('[SRS-OAUTH-007] a public client, or a confidential client not registered for the grant type, is refused', async () => {
    const subject = await subjectToken()
    const params = { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, audience: DEVICE_DATA }
    const publicClient = await s.discover(publicId, client.None())
    await assert.rejects(exchange(publicClient, params), (err) => oauthError(err) === 'unauthorized_client')
    // oidc-provider refuses a grant type missing from the client's grant_types before our handler
    // runs, with invalid_request ("requested grant type is not allowed for this client").
    const noGrant = await s.discover(noGrantId, client.ClientSecretBasic(secret))
    await assert.rejects(exchange(noGrant, params), (err) => oauthError(err) === 'invalid_request')
    const wrongSecret = await s.discover(serviceId, client.ClientSecretBasic(`${secret}x`))
    await assert.rejects(exchange(wrongSecret, params), (err) => oauthError(err) === 'invalid_client')
  })

  test('[SRS-OAUTH-007] the exchanged JWT is for internal services only: the public API answers 401', async () => {
    const subject = await subjectToken()
    const before_ = await fetch(`${s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${subject}` } })
    assert.equal(before_.status, 200, 'the subject token itself works on the API')
    const { access_token } = await exchange(service, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: DEVICE_DATA,
    })
    const me = await fetch(`${s.issuer}/api/v2/me`, { headers: { authorization: `Bearer ${access_token}` } })
    assert.equal(me.status, 401)
    assert.match(String(me.headers.get('www-authenticate')), /error="invalid_token"/)
  })
})
