/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON responses are walked loosely in tests; each is schema-validated first */
// SMART App Launch (standalone, patient) driven with openid-client through the real sign-in
// pages, then a real FHIR client library (fhir-kit-client) on the token: CapabilityStatement,
// Observations by code and date range, 250 of them paged 50 at a time, a DiagnosticReport.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Client } from 'fhir-kit-client'
import * as client from 'openid-client'
import { createTestUser, nativeAppMetadata, signInThroughForms, TEST_PASSWORD } from '../support/identity.ts'
import { assertValidFhir, seedReadings } from '../support/fhir.ts'
import { pkceAuthorizationRequest, startOAuthTestServer, type OAuthTestServer } from '../support/oauth.ts'

describe('SMART standalone launch and a FHIR client', () => {
  let s: OAuthTestServer
  const appId = `smart-app-${randomUUID()}`
  const redirectUri = 'http://127.0.0.1:49153/callback'
  let patientUser: Awaited<ReturnType<typeof createTestUser>>
  let patientId = ''
  let reportId = ''

  before(async () => {
    s = await startOAuthTestServer()
    await s.clients.upsert({
      clientId: appId,
      metadata: {
        ...nativeAppMetadata(appId),
        scope: 'openid fhirUser launch/patient patient/*.rs patient/Observation.rs offline_access',
      },
    })
    const org = (
      await s.db.query<{ id: string }>('INSERT INTO organisations (name) VALUES ($1) RETURNING id', [
        `SMART clinic ${randomUUID()}`,
      ])
    ).rows[0]?.id as string
    patientUser = await createTestUser(s.db, {
      email: `smart-${randomUUID()}@demo.test`,
      roles: [{ role: 'patient', organisationId: org }],
    })
    const p = await s.app.vigil.modules.patients.create({
      userId: patientUser.id,
      organisationId: org,
      demographics: { name: { family: 'Launch', given: ['Sam'] }, birthDate: '1970-01-01' },
    })
    patientId = p.id
    // 250 glucose readings a day apart from 2026-01-01, and 5 heart rates that the code search must leave out.
    const ids = await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 250 }, (_, i) => ({
        effectiveAt: new Date(Date.UTC(2026, 0, 1) + i * 86_400_000),
        content: { value: 90 + (i % 40), unit: 'mg/dL' },
      })),
    )
    await seedReadings(
      s.app,
      patientId,
      Array.from({ length: 5 }, (_, i) => ({
        code: '8867-4',
        category: 'vital-signs',
        effectiveAt: new Date(Date.UTC(2026, 0, 2 + i)),
        content: { value: 60 + i, unit: '/min' },
      })),
    )
    reportId = randomUUID()
    await s.db.query(
      `INSERT INTO diagnostic_reports (id, patient_id, code, status, effective_at, issued_at, result_reading_ids) VALUES ($1, $2, '11502-2', 'final', now(), now(), $3::uuid[])`,
      [reportId, patientId, ids.slice(0, 3)],
    )
  })
  after(() => s.close())

  test('[SRS-FHIR-009] a patient app gets patient in the token response and reads its data with fhir-kit-client', async () => {
    const config = await s.discover(appId, client.None())
    const fhirBase = `${s.issuer}/fhir/R4`
    const req = await pkceAuthorizationRequest(config, {
      redirectUri,
      scope: 'openid fhirUser launch/patient patient/*.rs',
      aud: fhirBase,
      prompt: 'consent',
    })
    const landed = await signInThroughForms(s.issuer, req.url.href, {
      email: patientUser.email,
      password: TEST_PASSWORD,
    })
    const callback = new URL(landed.url)
    assert.ok(callback.href.startsWith(redirectUri), `landed on ${callback.href}`)
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
    })
    assert.equal(tokens.patient, patientId, 'SMART: the token response names the launch patient')
    assert.ok(String(tokens.scope).split(' ').includes('patient/*.rs'))

    const fhir = new Client({ baseUrl: fhirBase, bearerToken: tokens.access_token })
    const cap = (await fhir.capabilityStatement()) as Record<string, any>
    assertValidFhir(cap)
    assert.equal(cap.fhirVersion, '4.0.1')

    const ranged = (await fhir.search({
      resourceType: 'Observation',
      searchParams: {
        patient: patientId,
        code: 'http://loinc.org|8867-4',
        date: ['ge2026-01-03', 'lt2026-01-05'],
      },
    })) as Record<string, any>
    assertValidFhir(ranged)
    assert.deepEqual(
      ranged.entry.map((e: any) => e.resource.effectiveDateTime.slice(0, 10)),
      ['2026-01-04', '2026-01-03'],
    )

    let page = (await fhir.search({
      resourceType: 'Observation',
      searchParams: { patient: patientId, code: 'http://loinc.org|2339-0', _count: 50 },
    })) as Record<string, any>
    const seen = new Set<string>()
    let pages = 0
    while (page) {
      assertValidFhir(page)
      pages += 1
      assert.ok(page.entry.length <= 50)
      for (const e of page.entry) seen.add(e.resource.id)
      page = (await fhir.nextPage({ bundle: page as any })) as Record<string, any>
    }
    assert.equal(seen.size, 250)
    assert.equal(pages, 5)

    const report = (await fhir.read({ resourceType: 'DiagnosticReport', id: reportId })) as Record<
      string,
      any
    >
    assertValidFhir(report)
    assert.equal(report.result.length, 3)

    // The patient's token reaches no one else.
    const other = await fetch(`${fhirBase}/Patient/${randomUUID()}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    assert.equal(other.status, 404)
  })
})
