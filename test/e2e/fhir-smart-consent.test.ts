// A third-party SMART app (not one of Vigil's own): the patient sees the consent page listing the
// scopes asked, and allows or denies. Driven with openid-client through the real pages.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as client from 'openid-client'
import {
  createTestUser,
  csrfOf,
  followUntilOutside,
  postForm,
  signInThroughForms,
  TEST_PASSWORD,
} from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('SMART app of a third party: the consent page', () => {
  let s: OAuthTestServer
  const appId = `third-party-smart-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49155/callback'
  let user: Awaited<ReturnType<typeof createTestUser>>
  let patientId = ''

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({
      clientId: appId,
      metadata: {
        client_id: appId,
        client_name: 'Glucose Diary (third party)',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: 'openid fhirUser launch/patient patient/*.rs patient/Observation.rs',
      },
    })
    user = await createTestUser(s.db, {
      email: `consenting-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: null }],
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        userId: user.id,
        demographics: { name: { family: 'Consenting' } },
      })
    ).id
  })
  after(() => s.close())

  async function toConsentPage(config: client.Configuration) {
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid launch/patient patient/Observation.rs',
      aud: `${s.issuer}/fhir/R4`,
    })
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: user.email,
      password: TEST_PASSWORD,
    })
    assert.ok(landed.page, `expected the consent page, landed on ${landed.url}`)
    assert.match(landed.page, /Glucose Diary \(third party\)/)
    assert.match(landed.page, /patient\/Observation\.rs/)
    const action = new URL(/action="([^"]*\/consent)"/.exec(landed.page)?.[1] ?? '', s.issuer).toString()
    return { req, landed, action }
  }

  test('[SRS-FHIR-010] allowing on the consent page completes the launch: the token names the patient and reads their Observations', async () => {
    const config = await s.discover(appId, client.None())
    const { req, landed, action } = await toConsentPage(config)
    const done = await followUntilOutside(
      s.issuer,
      action,
      landed.jar,
      postForm({ decision: 'allow', csrf: csrfOf(landed.page as string) }),
    )
    assert.ok(done.url.startsWith(redirectUri), `after Allow, landed on ${done.url} (${done.status})`)
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(tokens.patient, patientId)
    const res = await fetch(`${s.issuer}/fhir/R4/Observation?patient=${patientId}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(res.status, 200)
    // patient/Observation.rs reaches Observations only, never the Patient resource.
    const patient = await fetch(`${s.issuer}/fhir/R4/Patient/${patientId}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(patient.status, 403)
  })

  test('[SRS-FHIR-010] denying on the consent page returns access_denied to the app and issues nothing', async () => {
    const config = await s.discover(appId, client.None())
    const { landed, action } = await toConsentPage(config)
    const done = await followUntilOutside(
      s.issuer,
      action,
      landed.jar,
      postForm({ decision: 'deny', csrf: csrfOf(landed.page as string) }),
    )
    const back = new URL(done.url)
    assert.ok(done.url.startsWith(redirectUri))
    assert.equal(back.searchParams.get('error'), 'access_denied')
    assert.equal(back.searchParams.get('code'), null)
  })
})
