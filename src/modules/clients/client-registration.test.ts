// The registration rules shared by `vigil client create` and the admin API: redirect URIs after
// RFC 8252 and RFC 9700, the grant types the server serves, and the metadata they become.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, test } from 'node:test'
import {
  checkClientRegistration,
  clientMetadata,
  publicJwkProblem,
  redirectUriProblem,
  type ClientRegistration,
} from './client-registration.ts'

const publicApp: ClientRegistration = {
  clientId: 'vigil-mobile',
  type: 'public',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: ['http://127.0.0.1/callback', 'com.example.vigil:/callback'],
  scope: 'openid offline_access account:read',
  firstParty: true,
}

describe('client registration (RFC 8252, RFC 9700)', () => {
  test('[SRS-OAUTH-010] redirect URIs: https for everyone; loopback http and private-use schemes for public clients only', () => {
    const accepted: [string, ClientRegistration['type']][] = [
      ['https://portal.clinic.example/callback', 'confidential'],
      ['https://app.example/cb', 'public'],
      ['http://127.0.0.1/callback', 'public'],
      ['http://127.0.0.1:8765/callback', 'public'],
      ['http://[::1]/callback', 'public'],
      ['com.example.app:/callback', 'public'],
    ]
    for (const [uri, type] of accepted)
      assert.equal(redirectUriProblem(uri, type), undefined, `${type} ${uri}`)
    const refused: [string, ClientRegistration['type']][] = [
      ['http://app.example.com/callback', 'public'],
      ['http://localhost/callback', 'public'],
      ['http://127.0.0.1/callback', 'confidential'],
      ['http://127.0.0.1/callback', 'private-key-jwt'],
      ['com.example.app:/callback', 'confidential'],
      ['myapp:/callback', 'public'],
      ['javascript:alert(1)', 'public'],
      ['data:text/html,x', 'public'],
      ['https://127.0.0.1/callback', 'public'],
      ['https://app.example/cb#fragment', 'confidential'],
      ['https://user:pass@app.example/cb', 'confidential'],
      ['/callback', 'public'],
      ['app.example/callback', 'confidential'],
    ]
    for (const [uri, type] of refused)
      assert.ok(redirectUriProblem(uri, type), `${type} ${uri} should be refused`)
  })

  test('[SRS-OAUTH-010] grant types, scopes and keys: only what the server supports, and coherent for the client type', () => {
    assert.deepEqual(checkClientRegistration(publicApp), [])
    const pointers = (reg: Partial<ClientRegistration>) =>
      checkClientRegistration({ ...publicApp, ...reg }).map((p) => p.pointer)
    assert.deepEqual(pointers({ grantTypes: ['authorization_code', 'implicit'] }), ['/grantTypes/1'])
    assert.deepEqual(pointers({ grantTypes: ['client_credentials'], redirectUris: [] }), ['/grantTypes'])
    assert.deepEqual(pointers({ grantTypes: ['refresh_token'], redirectUris: [] }), ['/grantTypes'])
    assert.deepEqual(pointers({ redirectUris: [] }), ['/redirectUris'])
    assert.deepEqual(pointers({ scope: 'openid everything' }), ['/scope'])
    assert.deepEqual(pointers({ clientId: 'x' }), ['/clientId'])
    assert.deepEqual(
      pointers({
        type: 'private-key-jwt',
        grantTypes: ['client_credentials'],
        redirectUris: [],
        jwks: { keys: [{ kty: 'EC', d: 'secret' }] },
      }),
      ['/jwks/keys/0'],
    )
    assert.deepEqual(
      pointers({
        type: 'confidential',
        grantTypes: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        redirectUris: [],
        scope: 'account:read',
      }),
      [],
    )
    assert.deepEqual(
      pointers({
        grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        redirectUris: [],
      }),
      [],
    )
  })

  test('[SRS-OAUTH-010] the metadata: a public client is native without a secret; a confidential one uses client_secret_basic', () => {
    assert.deepEqual(clientMetadata(publicApp), {
      client_id: 'vigil-mobile',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback', 'com.example.vigil:/callback'],
      scope: 'openid offline_access account:read',
      first_party: true,
    })
    const service = clientMetadata({
      clientId: 'svc',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'account:read',
      name: 'Service',
    })
    assert.equal(service.token_endpoint_auth_method, 'client_secret_basic')
    assert.deepEqual(service.response_types, [])
    assert.equal(service.client_name, 'Service')
    assert.equal('first_party' in service, false)
  })

  test("[SRS-OAUTH-010] a client's JWK must be a usable public signing key: RSA of 2048 bits or more, EC on its curve or OKP, with strict base64url members", () => {
    const rsa = (bits: number) =>
      generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' })
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
    for (const good of [rsa(2048), ec, ed]) assert.equal(publicJwkProblem(good), undefined, String(good.kty))
    const refused: Array<[string, unknown]> = [
      ['no kty', { n: 'AQAB' }],
      ['a private member', { ...ec, d: 'AAAA' }],
      ['a symmetric key', { kty: 'oct', k: 'AAAA' }],
      ['an unknown kty', { kty: '_' }],
      ['a short RSA modulus', rsa(1024)],
      ['a modulus with characters outside base64url', { kty: 'RSA', n: '0000-01-01T00:00:00Z', e: 'AQAB' }],
      ['padding', { ...ec, x: `${String(ec.x)}=` }],
      ['a point off the curve', { ...ec, y: ec.x }],
      ['an RSA key without its exponent', { kty: 'RSA', n: rsa(2048).n }],
      ['not an object', 'RSA'],
    ]
    for (const [what, key] of refused) assert.ok(publicJwkProblem(key), `${what} should be refused`)
  })
})
