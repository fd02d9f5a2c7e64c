/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON walked loosely; every body is schema-validated first */
// @medplum/core's MedplumClient, unmodified, pointed at /fhir/R4 with a token from a real
// authorization-code launch (issue 13, item 5): reads, searches and pages through `next` links;
// every resource and Bundle it receives is checked against the R4 JSON schema as it arrives (the
// client's own fetch is wrapped to see the raw responses), and by the results it hands back.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { MedplumClient } from '@medplum/core'
import * as client from 'openid-client'
import { assertValidFhir, seedReadings } from '../support/fhir.ts'
import { createTestUser, nativeAppMetadata, signInThroughForms, TEST_PASSWORD } from '../support/identity.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('MedplumClient on /fhir/R4 with a SMART token', () => {
  let s: OAuthTestServer
  let fhirBase = ''
  const appId = `medplum-app-${randomUUID()}`
  let patientId = ''
  let token = ''
  let glucoseIds: string[] = []
  /** Every FHIR body the client received, as the server sent it. */
  const received: Array<{ url: string; status: number; type: string | null; body: any }> = []

  before(async () => {
    s = await startOAuthTestServer()
    fhirBase = `${s.issuer}/fhir/R4`
    await s.clients.upsert({
      clientId: appId,
      metadata: { ...nativeAppMetadata(appId), scope: 'openid fhirUser launch/patient patient/*.rs' },
    })
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `Medplum clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    const user = await createTestUser(s.db, {
      email: `medplum-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org }],
    })
    patientId = (
      await s.app.vigil.modules.patients.create({
        userId: user.id,
        organisationId: org,
        demographics: { name: { family: 'Plum', given: ['Med'] }, birthDate: '1975-05-06' },
      })
    ).id
    glucoseIds = await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 23 }, (_, i) => ({
        effectiveAt: new Date(Date.UTC(2026, 2, 1) + i * 3_600_000),
        content: { value: 100 + i, unit: 'mg/dL' },
      })),
    )
    await seedReadings(s.app, patientId, [
      {
        code: '8867-4',
        category: 'vital-signs',
        effectiveAt: new Date(Date.UTC(2026, 2, 2)),
        content: { value: 64, unit: '/min' },
      },
    ])
    const config = await s.discover(appId, client.None())
    const req = await pkceAuthorizationRequest(config, {
      redirectUri: 'http://127.0.0.1:49181/callback',
      scope: 'openid fhirUser launch/patient patient/*.rs',
      aud: fhirBase,
    })
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: user.email,
      password: TEST_PASSWORD,
    })
    const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(tokens.patient, patientId)
    token = tokens.access_token
  })
  after(() => s.close())

  function medplum() {
    const recordingFetch = async (url: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(url, init)
      const text = await res.clone().text()
      received.push({
        url: String(url),
        status: res.status,
        type: res.headers.get('content-type'),
        body: text ? JSON.parse(text) : undefined,
      })
      return res
    }
    // The client as Medplum documents it for another FHIR server: base URL and FHIR path, a token, nothing else.
    const m = new MedplumClient({
      baseUrl: s.issuer,
      fhirUrlPath: 'fhir/R4',
      fetch: recordingFetch as typeof fetch,
      cacheTime: 0,
    })
    m.setAccessToken(token)
    return m
  }

  test('[SRS-FHIR-523] MedplumClient reads, searches and pages through next links; every resource and Bundle it receives validates against R4', async () => {
    const m = medplum()
    const patient = (await m.readResource('Patient', patientId)) as any
    assertValidFhir(patient)
    assert.equal(patient.id, patientId)

    const bundle = (await m.search('Observation', {
      patient: patientId,
      code: 'http://loinc.org|8867-4',
    })) as any
    assertValidFhir(bundle)
    assert.equal(bundle.entry.length, 1)
    assert.equal(bundle.entry[0].resource.valueQuantity.value, 64)

    const seen: string[] = []
    let pages = 0
    for await (const page of m.searchResourcePages('Observation', {
      patient: patientId,
      code: 'http://loinc.org|2339-0',
      _count: 5,
    })) {
      assertValidFhir((page as any).bundle)
      pages += 1
      assert.ok(page.length <= 5)
      for (const r of page) seen.push(r.id)
    }
    assert.equal(pages, 5, 'five pages of five (the last holds three), followed by next links')
    assert.deepEqual([...seen].sort(), [...glucoseIds].sort())
    assert.equal(new Set(seen).size, seen.length, 'no reading repeated across pages')

    const one = (await m.readResource('Observation', glucoseIds[0] as string)) as any
    assertValidFhir(one)

    // What came over the wire: every body a FHIR resource, as application/fhir+json, and valid.
    assert.ok(received.length >= 8)
    for (const r of received) {
      assert.equal(r.status, 200, r.url)
      assert.match(String(r.type), /^application\/fhir\+json/, r.url)
      assertValidFhir(r.body, r.url)
    }
  })

  test('[SRS-FHIR-523] MedplumClient sees a not-found read as the OperationOutcome it is, and a search without a token is refused', async () => {
    const m = medplum()
    await assert.rejects(m.readResource('Observation', randomUUID()), (err: any) => {
      assert.equal(err.outcome?.resourceType, 'OperationOutcome')
      assertValidFhir(err.outcome)
      return true
    })
    const anonymous = new MedplumClient({
      baseUrl: s.issuer,
      fhirUrlPath: 'fhir/R4',
      cacheTime: 0,
      onUnauthenticated: () => undefined,
    })
    await assert.rejects(anonymous.search('Observation', { patient: patientId }))
  })
})
