// The rule `service.organisation-consent` over HTTP (issue 16; ADR-0020, ADR-0028): a consent a
// patient gives an organisation reaches that organisation's backend services, for reading the
// consented categories only, on the REST API and on FHIR alike, and stops the moment it is revoked;
// a service of an organisation the patient has no relationship with is concealed from the patient.
// (The authorization matrix holds the same principals, `serviceConsent` and `serviceOther`, for
// every operation; this file shows the dynamics: categories, revocation, writes.)
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, mintToken, type World } from '../support/world.ts'

describe('consent to an organisation and its backend services', () => {
  let t: TestApp
  let w: World
  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
  })
  after(() => t?.close())

  const get = async (url: string, token: string) =>
    (await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })).statusCode

  test('[SRS-EVT-563] a backend service reads a patient who consented to its organisation — the consented categories only, never writing — until the consent is revoked; a service of an unrelated organisation is concealed', async () => {
    const api = (clientId: string) =>
      mintToken(t.app, t.config.publicUrl, { clientId, scope: 'patients:read device-data:read reports:read' })
    const fhir = (clientId: string) =>
      mintToken(t.app, t.config.publicUrl, { clientId, scope: 'system/*.rs', resource: 'fhir' })
    const consented = {
      api: await api(w.services.consented.clientId),
      fhir: await fhir(w.services.consented.clientId),
    }
    const other = { api: await api(w.services.orgB.clientId), fhir: await fhir(w.services.orgB.clientId) }
    const patient = w.patients.patient
    const reads = [
      (tok: typeof consented) => get(`/api/v2/patients/${patient}`, tok.api),
      (tok: typeof consented) => get(`/api/v2/device-data?patient=${patient}`, tok.api),
      (tok: typeof consented) => get(`/fhir/R4/Patient/${patient}`, tok.fhir),
      (tok: typeof consented) => get(`/fhir/R4/Observation/${w.readings.patient}`, tok.fhir),
      (tok: typeof consented) => get(`/fhir/R4/DiagnosticReport/${w.reports.patient}`, tok.fhir),
    ]
    for (const read of reads) assert.equal(await read(consented), 200)
    for (const read of reads) assert.equal(await read(other), 404, 'no relationship: concealed')
    // The canary patient gave organisation D nothing.
    assert.equal(await get(`/fhir/R4/Patient/${w.patients.canary}`, consented.fhir), 404)

    // Reading only: a write with the write scope is refused to a service whatever the consent.
    const writer = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.services.consented.clientId,
      scope: 'system/*.rs system/Observation.cu',
      resource: 'fhir',
    })
    const write = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/Observation',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
        subject: { reference: `Patient/${patient}` },
        effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
        valueQuantity: { value: 99, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      }),
    })
    assert.ok(
      [403, 404].includes(write.statusCode),
      `write refused: ${write.statusCode} ${write.body.slice(0, 200)}`,
    )

    // Narrowed to device data: reports and demographics are no longer reached.
    await t.db.query("UPDATE consents SET categories = ARRAY['device-data'] WHERE id = $1", [
      w.consents.organisation,
    ])
    assert.equal(await reads[1]?.(consented), 200)
    assert.equal(await reads[3]?.(consented), 200)
    assert.equal(await reads[4]?.(consented), 404, 'reports: not consented')
    assert.equal(await reads[2]?.(consented), 404, 'demographics: not consented')

    // Revoked: the very next request is refused (no cache).
    await t.db.query('UPDATE consents SET revoked_at = now() WHERE id = $1', [w.consents.organisation])
    for (const read of reads) assert.equal(await read(consented), 404)
    const audit = await t.db.query<{ decision_rule: string; consent_id: string | null }>(
      "SELECT decision_rule, consent_id FROM audit_entries WHERE client_id = $1 AND outcome = 'success' AND decision_rule = 'service.organisation-consent' LIMIT 1",
      [w.services.consented.clientId],
    )
    assert.equal(
      audit.rows[0]?.consent_id,
      w.consents.organisation,
      'reads under the consent are audited with it',
    )
  })
})
