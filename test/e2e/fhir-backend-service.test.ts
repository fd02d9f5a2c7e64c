// SMART Backend Services: a service authenticates with private_key_jwt (RFC 7523) at the real
// token endpoint, asks for system/*.rs on the FHIR server (RFC 8707 resource), and reads the
// patients of its own organisation only. Driven by openid-client.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { exportJWK, generateKeyPair } from 'jose'
import * as client from 'openid-client'
import { assertValidFhir } from '../support/fhir.ts'
import { startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('SMART backend services', () => {
  let s: OAuthTestServer
  const serviceId = `backend-${randomUUID()}`
  let privateKey: client.CryptoKey
  let ownPatient = ''
  let otherPatient = ''

  before(async () => {
    s = await startOAuthTestServer()
    const org = async () =>
      (
        (
          await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
            `Backend clinic ${randomUUID()}`,
          ])
        ).rows[0] as { id: string }
      ).id
    const own = await org()
    const other = await org()
    const { patients } = s.app.vigil.modules
    ownPatient = (
      await patients.create({ organisationId: own, demographics: { name: { family: 'Ownorg' } } })
    ).id
    otherPatient = (
      await patients.create({ organisationId: other, demographics: { name: { family: 'Otherorg' } } })
    ).id
    const pair = await generateKeyPair('ES256', { extractable: true })
    privateKey = pair.privateKey
    await s.clients.upsert({
      clientId: serviceId,
      metadata: {
        client_id: serviceId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: {
          keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'backend-1', alg: 'ES256', use: 'sig' }],
        },
        scope: 'system/*.rs system/Patient.rs',
      },
    })
    await s.db.query('UPDATE oauth_clients SET organisation_id = $2 WHERE client_id = $1', [serviceId, own])
  })
  after(() => s.close())

  test("[SRS-FHIR-011] Inferno backend_services_authorization (SMART 2.0 backend-services.html, Obtaining an access token; client-confidential-asymmetric.html): a backend service with private_key_jwt and system/*.rs reads its own organisation's patients, and no other's", async () => {
    const config = await s.discover(serviceId, client.PrivateKeyJwt({ key: privateKey, kid: 'backend-1' }))
    const fhirBase = `${s.issuer}/fhir/R4`
    const tokens = await client.clientCredentialsGrant(config, { scope: 'system/*.rs', resource: fhirBase })
    assert.equal(tokens.scope, 'system/*.rs')
    const get = (path: string) =>
      fetch(`${fhirBase}${path}`, {
        headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/fhir+json' },
      })

    const mine = await get(`/Patient/${ownPatient}`)
    assert.equal(mine.status, 200)
    const resource = (await mine.json()) as { id: string }
    assertValidFhir(resource)
    assert.equal(resource.id, ownPatient)
    assert.equal(
      (await get(`/Patient/${otherPatient}`)).status,
      404,
      "another organisation's patient is concealed",
    )

    const search = (await (await get('/Patient')).json()) as { entry?: Array<{ resource: { id: string } }> }
    assertValidFhir(search)
    const ids = (search.entry ?? []).map((e) => e.resource.id)
    assert.ok(ids.includes(ownPatient))
    assert.ok(!ids.includes(otherPatient))

    // system/*.rs reads; it never writes.
    const write = await fetch(`${fhirBase}/Patient/${ownPatient}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', id: ownPatient, name: [{ family: 'Changed' }] }),
    })
    assert.equal(write.status, 403)
    // The FHIR token is not an API token.
    const api = await fetch(`${s.issuer}/api/v2/patients/${ownPatient}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(api.status, 401)
  })
})
