/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON responses are walked loosely in tests; each is schema-validated first */
// The FHIR R4 API over the authorization world: every response validates against R4, the canary
// patient never leaks through searches or _include, SMART scopes narrow the policy, and the REST
// behaviours (strict handling, If-Match, conditional create, paging) hold. PGlite or PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { FHIR_RESOURCES } from '../../src/fhir-format/search.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { fhirJson, seedReadings } from '../support/fhir.ts'
import { buildWorld, mintToken, userToken, type World } from '../support/world.ts'

describe('FHIR R4 API', () => {
  let t: TestApp
  let w: World
  const bodies: string[] = []
  let obsIds: string[] = []

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    obsIds = await seedReadings(t.app, w.patients.patient, [
      { effectiveAt: new Date('2026-03-01T08:00:00Z'), offsetMinutes: 60, deviceId: w.devices.bound.id },
      {
        effectiveAt: new Date('2026-03-02T08:00:00Z'),
        code: '85354-9',
        category: 'vital-signs',
        content: {
          components: [
            { code: '8480-6', value: 120, unit: 'mm[Hg]' },
            { code: '8462-4', value: 80, unit: 'mm[Hg]' },
          ],
        },
      },
      {
        effectiveAt: new Date('2026-03-03T08:00:00Z'),
        code: '8867-4',
        category: 'vital-signs',
        content: { value: 61, unit: '/min' },
      },
    ])
    await seedReadings(t.app, w.patients.canary, [
      {
        effectiveAt: new Date('2026-03-01T09:00:00Z'),
        content: { value: 1, unit: 'mg/dL', note: w.canaryValues[0] },
      },
    ])
  })
  after(async () => {
    for (const b of bodies)
      for (const v of w.canaryValues)
        assert.ok(
          !b.includes(v),
          'no response to another principal contains the canary patient\u2019s values',
        )
    await t.close()
  })

  const fhirToken = (user: keyof World['users'], scope: string, patient?: string) =>
    userToken(t.app, t.config.publicUrl, w, w.users[user], scope, {
      resource: 'fhir',
      ...(patient ? { patient } : {}),
    })
  async function get(url: string, token?: string, headers: Record<string, string> = {}) {
    const res = await t.app.inject({
      url: `/fhir/R4${url}`,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    })
    // Bundle.link echoes the caller's own search (a search by the canary's identifier names it); the rest must not.
    const parsed = JSON.parse(res.body) as Record<string, unknown>
    bodies.push(JSON.stringify({ ...parsed, link: undefined }))
    return { status: res.statusCode, headers: res.headers, body: await fhirJson(res) }
  }
  async function send(
    method: 'POST' | 'PUT',
    url: string,
    token: string,
    payload: unknown,
    headers: Record<string, string> = {},
  ) {
    const res = await t.app.inject({
      method,
      url: `/fhir/R4${url}`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers },
      payload: JSON.stringify(payload),
    })
    bodies.push(res.body)
    return { status: res.statusCode, headers: res.headers, body: await fhirJson(res) }
  }

  test('[SRS-FHIR-001] the CapabilityStatement lists exactly the implemented table, with the SMART OAuth URIs', async () => {
    const { status, body } = await get('/metadata')
    assert.equal(status, 200)
    assert.equal(body.fhirVersion, '4.0.1')
    const rest = body.rest[0]
    // Practitioner: read only, the fhirUser of a clinician (SMART App Launch); Subscription: the
    // R4 Subscriptions Backport (rest-hook), declared by the events module.
    assert.deepEqual(
      rest.resource.map((r: any) => r.type),
      [...FHIR_RESOURCES.map((r) => r.type), 'Practitioner', 'Subscription'],
    )
    const obs = rest.resource.find((r: any) => r.type === 'Observation')
    assert.deepEqual(obs.searchParam.map((p: any) => p.name).sort(), [
      '_id',
      '_lastUpdated',
      'category',
      'code',
      'date',
      'device',
      'patient',
      'subject',
    ])
    assert.deepEqual(obs.searchInclude, ['Observation:subject', 'Observation:device'])
    const uris = rest.security.extension[0].extension
    assert.equal(uris.find((e: any) => e.url === 'token').valueUri, `${t.config.publicUrl}/oauth/token`)
    assert.equal(rest.security.service[0].coding[0].code, 'SMART-on-FHIR')
    const smart = await t.app.inject({ url: '/.well-known/smart-configuration' })
    const cfg = smart.json()
    assert.deepEqual(cfg.code_challenge_methods_supported, ['S256'])
    for (const c of [
      'launch-standalone',
      'context-standalone-patient',
      'permission-v2',
      'permission-v1',
      'client-confidential-asymmetric',
    ])
      assert.ok(cfg.capabilities.includes(c), c)
    for (const s of [
      'patient/*.rs',
      'user/Observation.rs',
      'patient/Observation.read',
      'system/*.rs',
      'launch/patient',
      'fhirUser',
      'openid',
      'offline_access',
    ])
      assert.ok(cfg.scopes_supported.includes(s), s)
  })

  test('[SRS-FHIR-002] every reading is a valid Observation: LOINC, UCUM, BP components, profile, offset, version', async () => {
    const token = await fhirToken('clinicianTeam', 'user/*.rs')
    const first = await get(`/Observation/${obsIds[0]}`, token)
    assert.equal(first.status, 200)
    assert.equal(first.headers.etag, 'W/"1"')
    assert.equal(first.body.effectiveDateTime, '2026-03-01T09:00:00.000+01:00')
    assert.equal(first.body.valueQuantity.system, 'http://unitsofmeasure.org')
    assert.equal(first.body.device.reference, `Device/${w.devices.bound.id}`)
    const bp = await get(`/Observation/${obsIds[1]}`, token)
    assert.ok(bp.body.meta.profile.includes('http://hl7.org/fhir/StructureDefinition/bp'))
    assert.deepEqual(
      bp.body.component.map((c: any) => [c.code.coding[0].code, c.valueQuantity.value]),
      [
        ['8480-6', 120],
        ['8462-4', 80],
      ],
    )
    const range = await get(
      `/Observation?patient=Patient/${w.patients.patient}&date=ge2026-03-02&date=lt2026-03-03&code=http://loinc.org|85354-9`,
      token,
    )
    assert.deepEqual(
      range.body.entry.map((e: any) => e.resource.id),
      [obsIds[1]],
    )
    const device = await get(`/Device?patient=${w.patients.patient}`, token)
    assert.deepEqual(
      device.body.entry.map((e: any) => e.resource.id),
      [w.devices.bound.id],
    )
  })

  test('[SRS-FHIR-003] searches by another patient\u2019s id and _include never return what the caller may not see', async () => {
    for (const user of ['clinicianTeam', 'patient', 'clinicianOutside'] as const) {
      const token = await fhirToken(user, 'user/*.rs')
      const obs = await get(`/Observation?patient=${w.patients.canary}&_include=Observation:subject`, token)
      assert.equal(obs.status, 200)
      assert.equal(obs.body.entry.length, 0, `${user} sees none of the canary's observations`)
      const all = await get('/Observation?_include=Observation:subject&_include=Observation:device', token)
      assert.ok(all.body.entry.every((e: any) => !JSON.stringify(e).includes(w.patients.canary)))
      const byId = await get(`/Patient?_id=${w.patients.canary}`, token)
      assert.equal(byId.body.entry.length, 0)
      const byIdentifier = await get(`/Patient?identifier=urn:vigil:mrn|${w.canaryValues[2]}`, token)
      assert.equal(byIdentifier.body.entry.length, 0)
      assert.equal((await get(`/Patient/${w.patients.canary}`, token)).status, 404)
    }
    // The caller's own results, with their subject included, for contrast.
    const own = await get(
      '/Observation?_include=Observation:subject',
      await fhirToken('clinicianTeam', 'user/*.rs'),
    )
    assert.equal(
      own.body.entry.filter((e: any) => e.search.mode === 'include' && e.resource.id === w.patients.patient)
        .length,
      1,
    )
  })

  test('[SRS-FHIR-004] a patient-scoped token reads only its patient and cannot write; system/*.rs stays in its organisation', async () => {
    const patientScoped = await fhirToken(
      'clinicianTeam',
      'patient/Observation.rs patient/Patient.rs',
      w.patients.patient,
    )
    assert.equal((await get(`/Patient/${w.patients.patient}`, patientScoped)).status, 200)
    assert.equal((await get(`/Patient/${w.patients.otherPatient}`, patientScoped)).status, 404)
    const write = await send(
      'POST',
      '/DiagnosticReport',
      patientScoped,
      report(w.patients.patient, [obsIds[0] as string]),
    )
    assert.equal(write.status, 403)
    assert.equal(write.body.resourceType, 'OperationOutcome')

    const serviceA = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.services.orgA.clientId,
      scope: 'system/*.rs',
      resource: 'fhir',
    })
    const serviceB = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.services.orgB.clientId,
      scope: 'system/*.rs',
      resource: 'fhir',
    })
    assert.equal((await get(`/Observation/${obsIds[0]}`, serviceA)).status, 200)
    assert.equal((await get(`/Observation/${obsIds[0]}`, serviceB)).status, 404)
    assert.equal((await get(`/Observation?patient=${w.patients.patient}`, serviceB)).body.entry.length, 0)
    // An API token is not a FHIR token.
    const apiToken = await userToken(t.app, t.config.publicUrl, w, w.users.clinicianTeam)
    const wrong = await get(`/Patient/${w.patients.patient}`, apiToken)
    assert.equal(wrong.status, 401)
    assert.match(String(wrong.headers['www-authenticate']), /invalid_token/)
  })

  test('[SRS-FHIR-005] unknown search parameters: ignored and reported when lenient, 400 with Prefer: handling=strict', async () => {
    const token = await fhirToken('clinicianTeam', 'user/*.rs')
    const lenient = await get('/Observation?flavour=vanilla', token)
    assert.equal(lenient.status, 200)
    const outcome = lenient.body.entry.find((e: any) => e.search.mode === 'outcome')
    assert.deepEqual(outcome.resource.issue[0].expression, ['flavour'])
    const strict = await get('/Observation?flavour=vanilla', token, { prefer: 'handling=strict' })
    assert.equal(strict.status, 400)
    assert.equal(strict.body.resourceType, 'OperationOutcome')
    assert.equal((await get('/Observation?_count=500', token)).status, 400)
    assert.equal((await get('/Observation?date=sa2026', token)).status, 400)
  })

  test('[SRS-FHIR-006] Patient create, conditional create without duplicate, If-Match update and 412, R4 validation', async () => {
    const admin = await fhirToken('orgAdminA', 'admin:users user/Patient.cu')
    const mrn = `MRN-NEW-${w.suffix}`
    const patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:vigil:mrn', value: mrn }],
      name: [{ family: `Newfamily${w.suffix}`, given: ['Nia'] }],
      birthDate: '1990-01-02',
    }
    const created = await send('POST', '/Patient', admin, patient, {
      'if-none-exist': `identifier=urn:vigil:mrn|${mrn}`,
    })
    assert.equal(created.status, 201)
    const id = created.body.id as string
    const again = await send('POST', '/Patient', admin, patient, {
      'if-none-exist': `identifier=urn:vigil:mrn|${mrn}`,
    })
    assert.equal(again.status, 200)
    assert.match(String(again.headers.location), new RegExp(`/Patient/${id}/`))
    assert.deepEqual(
      await t.app.vigil.modules.patients.findByIdentifier({ system: 'urn:vigil:mrn', value: mrn }),
      [id],
    )
    const invalid = await send('POST', '/Patient', admin, {
      ...patient,
      birthDate: 'yesterday',
      colour: 'blue',
    })
    assert.equal(invalid.status, 400)
    assert.ok(invalid.body.issue[0].expression.includes('Patient.colour'))
    assert.ok(!JSON.stringify(invalid.body).includes('yesterday'), 'never echoes a submitted value')

    // A clinician in the care team updates their patient.
    const clinician = await fhirToken('clinicianTeam', 'user/Patient.cu user/Patient.rs')
    const current = await get(`/Patient/${w.patients.patient}`, clinician)
    const edited: Record<string, unknown> = { ...current.body, birthDate: '1980-02-04' }
    delete edited.meta
    const stale = await send('PUT', `/Patient/${w.patients.patient}`, clinician, edited, {
      'if-match': 'W/"99"',
    })
    assert.equal(stale.status, 412)
    const ok = await send('PUT', `/Patient/${w.patients.patient}`, clinician, edited, {
      'if-match': current.headers.etag as string,
    })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.meta.versionId, String(Number(current.body.meta.versionId) + 1))
    assert.equal((await get(`/Patient?birthdate=1980-02-04&name=pat`, clinician)).body.entry.length, 1)
    assert.equal((await get(`/Patient?birthdate=lt1980`, clinician)).body.entry.length, 0)
  })

  test('[SRS-FHIR-007] a clinician reports over a patient\u2019s observations; results must be that patient\u2019s', async () => {
    const clinician = await fhirToken('clinicianTeam', 'user/*.rs user/DiagnosticReport.cu')
    const created = await send(
      'POST',
      '/DiagnosticReport',
      clinician,
      report(w.patients.patient, [obsIds[0] as string, obsIds[1] as string]),
    )
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const read = await get(`/DiagnosticReport/${created.body.id}`, clinician)
    assert.equal(read.body.conclusion, 'Within target range.')
    assert.equal(
      (
        await get(
          `/DiagnosticReport?patient=${w.patients.patient}&code=http://loinc.org|11502-2&date=ge2026-03&date=lt2026-04`,
          clinician,
        )
      ).body.entry.length,
      1,
    )
    const foreign = await seedReadings(t.app, w.patients.otherPatient, [
      { effectiveAt: new Date('2026-03-05T00:00:00Z') },
    ])
    const mixed = await send(
      'POST',
      '/DiagnosticReport',
      clinician,
      report(w.patients.patient, [obsIds[0] as string, foreign[0] as string]),
    )
    assert.equal(mixed.status, 422)
    const outsider = await send(
      'POST',
      '/DiagnosticReport',
      await fhirToken('clinicianOutside', 'user/*.rs user/DiagnosticReport.cu'),
      report(w.patients.patient, [obsIds[0] as string]),
    )
    assert.equal(outsider.status, 404)
  })

  test('[SRS-FHIR-008] keyset paging: next/previous links are stable when readings arrive while a client pages', async () => {
    const token = await fhirToken('clinicianTeam', 'user/*.rs')
    const more = await seedReadings(
      t.app,
      w.patients.patient,
      Array.from({ length: 7 }, (_, i) => ({ effectiveAt: new Date(Date.UTC(2025, 0, 1, i)) })),
    )
    const seen: string[] = []
    let page = await get(`/Observation?patient=${w.patients.patient}&_count=4&_sort=date`, token)
    let firstNext = ''
    for (;;) {
      seen.push(
        ...page.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource.id),
      )
      const next = page.body.link.find((l: any) => l.relation === 'next')?.url as string | undefined
      if (!next) break
      if (!firstNext) {
        firstNext = next
        // An earlier reading arrives after page 1 was read: it must not shift later pages.
        await seedReadings(t.app, w.patients.patient, [{ effectiveAt: new Date(Date.UTC(2024, 0, 1)) }])
      }
      page = await get(new URL(next).pathname.replace('/fhir/R4', '') + new URL(next).search, token)
    }
    assert.equal(new Set(seen).size, seen.length, 'no reading repeats')
    for (const id of [...more, ...obsIds]) assert.ok(seen.includes(id), 'no reading is skipped')
    const second = await get(
      new URL(firstNext).pathname.replace('/fhir/R4', '') + new URL(firstNext).search,
      token,
    )
    const prev = second.body.link.find((l: any) => l.relation === 'previous')?.url as string
    const back = await get(new URL(prev).pathname.replace('/fhir/R4', '') + new URL(prev).search, token)
    assert.deepEqual(
      back.body.entry.map((e: any) => e.resource.id),
      seen.slice(0, 4),
    )
  })
})

function report(patientId: string, observations: string[]) {
  return {
    resourceType: 'DiagnosticReport',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Laboratory report' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2026-03-04T10:00:00+01:00',
    result: observations.map((id) => ({ reference: `Observation/${id}` })),
    conclusion: 'Within target range.',
  }
}
