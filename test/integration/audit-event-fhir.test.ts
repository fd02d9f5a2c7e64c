// FHIR R4 AuditEvent views of the trail (IHE Basic Audit Log Patterns) at /fhir/R4/AuditEvent:
// every resource validates against the R4 JSON schema; codes per BALP; search by patient, agent,
// date, action and outcome with next links; auditors only.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { AuditEntry, AuditEntryInput } from '../../src/audit/index.ts'
import { auditEventFhirRoutes } from '../../src/modules/auditor/index.ts'
import { createTestApp, type TestApp } from '../support/app.ts'
import { assertValidFhir } from '../support/fhir.ts'
import { buildWorld, mintToken, type World } from '../support/world.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

describe('FHIR AuditEvent view of the audit trail (IHE BALP)', () => {
  let t: TestApp
  let world: World
  let auditorToken: string
  const e: Record<
    'breakGlass' | 'loginFailed' | 'deviceWrite' | 'serviceSearch' | 'patientOwn' | 'serverError',
    AuditEntry
  > = {} as never
  const readingId = randomUUID()

  const fhir = async (path: string, token = auditorToken, prefix = '/fhir/R4') => {
    const res = await t.app.inject({
      method: 'GET',
      url: `${prefix}${path}`,
      headers: { authorization: `Bearer ${token}` },
    })
    return { status: res.statusCode, type: String(res.headers['content-type']), body: res.json() as Json }
  }

  before(async () => {
    t = await createTestApp({
      env: { ANOMALY_INTERVAL_SECONDS: '0' },
      // the plugin on its own, as the FHIR plugin mounts it (no FHIR error rendering here)
      routes: [
        async (app) => app.register(auditEventFhirRoutes(app.vigil.modules), { prefix: '/test-fhir' }),
      ],
    })
    world = await buildWorld(t.app)
    auditorToken = await mintToken(t.app, t.config.publicUrl, {
      clientId: world.consoleClientId,
      accountId: world.users.auditor.id,
      scope: 'openid user/AuditEvent.rs',
      resource: 'fhir',
    })
    const { audit } = t.app.vigil.modules
    // Each entry a few milliseconds after the one before: a FHIR date given to the millisecond
    // covers that whole millisecond, so two entries sharing one would both fall inside a range
    // that names only one of them (the date search below).
    const rec = async (input: AuditEntryInput) => {
      await new Promise((resolve) => setTimeout(resolve, 3))
      return audit.record({ requestId: `balp-${randomUUID()}`, ip: '203.0.113.9', ...input })
    }
    const P = world.patients.patient
    e.breakGlass = await rec({
      actorKind: 'user',
      actorId: world.users.clinicianBreakGlass.id,
      clientId: world.consoleClientId,
      action: 'device-data.read',
      resourceType: 'device-data',
      resourceId: readingId,
      patientId: P,
      outcome: 'success',
      status: 200,
      decisionRule: 'clinician.break-glass',
      breakGlass: true,
    })
    e.loginFailed = await rec({
      actorKind: 'anonymous',
      action: 'login.failed',
      resourceType: 'account',
      resourceId: world.users.patient.id,
      outcome: 'denied',
    })
    e.deviceWrite = await rec({
      actorKind: 'device',
      actorId: world.devices.bound.id,
      clientId: world.devices.bound.clientId,
      action: 'device-data.write',
      resourceType: 'device-data',
      patientId: P,
      outcome: 'success',
      status: 201,
      decisionRule: 'device.bound-patient',
    })
    e.serviceSearch = await rec({
      actorKind: 'client',
      actorId: world.services.orgA.clientId,
      clientId: world.services.orgA.clientId,
      action: 'patients.read',
      resourceType: 'patients',
      patientId: P,
      outcome: 'success',
      status: 200,
      decisionRule: 'service.own-organisation',
    })
    e.patientOwn = await rec({
      actorKind: 'user',
      actorId: world.users.patient.id,
      clientId: world.consoleClientId,
      action: 'device-data.read',
      resourceType: 'device-data',
      patientId: P,
      outcome: 'success',
      status: 200,
      decisionRule: 'patient.own-record',
    })
    e.serverError = await rec({
      actorKind: 'user',
      actorId: world.users.clinicianTeam.id,
      clientId: world.consoleClientId,
      action: 'patients.read',
      resourceType: 'patients',
      resourceId: P,
      patientId: P,
      outcome: 'error',
      status: 500,
    })
  })
  after(() => t.close())

  const codes = (x: Json | undefined) =>
    x
      ? [x]
          .flat()
          .flatMap((c: Json) => (c.coding ? c.coding : [c]))
          .map((c: Json) => `${c.system}|${c.code}`)
      : []

  test('[SRS-AUDIT-008] a break-glass read: rest/read, action R, outcome 0, requestor with address, patient entity, BTG, request id', async () => {
    const res = await fhir(`/AuditEvent/${e.breakGlass.id}`)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.match(res.type, /^application\/fhir\+json/)
    const ev = res.body
    assertValidFhir(ev)
    assert.equal(ev.resourceType, 'AuditEvent')
    assert.equal(ev.id, e.breakGlass.id)
    assert.deepEqual(codes(ev.type), ['http://terminology.hl7.org/CodeSystem/audit-event-type|rest'])
    assert.deepEqual(codes(ev.subtype), ['http://hl7.org/fhir/restful-interaction|read'])
    assert.equal(ev.action, 'R')
    assert.equal(ev.outcome, '0')
    assert.equal(ev.recorded, e.breakGlass.occurredAt.toISOString())
    assert.ok(codes(ev.purposeOfEvent).includes('http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG'))
    const requestor = ev.agent.find((a: Json) => a.requestor === true)
    assert.equal(requestor.who.identifier.value, world.users.clinicianBreakGlass.id)
    assert.deepEqual(requestor.network, { address: '203.0.113.9', type: '2' })
    assert.ok(
      codes(requestor.purposeOfUse).includes('http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG'),
    )
    const app = ev.agent.find((a: Json) => a.requestor === false)
    assert.equal(app.who.identifier.value, world.consoleClientId)
    assert.equal(ev.source.observer.identifier.value, t.config.publicUrl)
    const patient = ev.entity.find((x: Json) => x.what.reference === `Patient/${world.patients.patient}`)
    assert.equal(patient.role.code, '1')
    assert.ok(ev.entity.some((x: Json) => x.what.reference === `Observation/${readingId}`))
    const request = ev.entity.find((x: Json) => x.type?.code === 'XrequestId')
    assert.equal(request.what.identifier.value, e.breakGlass.requestId)
  })

  test('[SRS-AUDIT-008] a failed login is a DICOM 110114 User Authentication, action E, outcome 4; a server error is outcome 8', async () => {
    const login = (await fhir(`/AuditEvent/${e.loginFailed.id}`)).body
    assertValidFhir(login)
    assert.deepEqual(codes(login.type), ['http://dicom.nema.org/resources/ontology/DCM|110114'])
    assert.equal(login.action, 'E')
    assert.equal(login.outcome, '4')
    const err = (await fhir(`/AuditEvent/${e.serverError.id}`)).body
    assertValidFhir(err)
    assert.equal(err.outcome, '8')
  })

  test('[SRS-AUDIT-008] agents: a device is Device/<id>, a backend service its client id, a patient user Patient/<id>; a create is C', async () => {
    const device = (await fhir(`/AuditEvent/${e.deviceWrite.id}`)).body
    assertValidFhir(device)
    assert.equal(device.action, 'C')
    assert.deepEqual(codes(device.subtype), ['http://hl7.org/fhir/restful-interaction|create'])
    assert.equal(device.agent[0].who.reference, `Device/${world.devices.bound.id}`)
    const service = (await fhir(`/AuditEvent/${e.serviceSearch.id}`)).body
    assertValidFhir(service)
    assert.deepEqual(service.agent[0].who.identifier, {
      system: 'urn:ietf:params:oauth:client-id',
      value: world.services.orgA.clientId,
    })
    assert.deepEqual(codes(service.subtype), ['http://hl7.org/fhir/restful-interaction|search-type'])
    const own = (await fhir(`/AuditEvent/${e.patientOwn.id}`)).body
    assertValidFhir(own)
    assert.equal(own.agent[0].who.reference, `Patient/${world.patients.patient}`)
  })

  test('[SRS-AUDIT-008] search: a searchset Bundle by patient, action, outcome, agent and date; next links visit every match once', async () => {
    const P = world.patients.patient
    const all = await fhir(`/AuditEvent?patient=Patient/${P}`)
    assert.equal(all.status, 200)
    assertValidFhir(all.body)
    assert.equal(all.body.type, 'searchset')
    const ids = (b: Json) => new Set<string>((b.entry ?? []).map((x: Json) => x.resource.id))
    const mine = [e.breakGlass, e.deviceWrite, e.serviceSearch, e.patientOwn, e.serverError].map((x) => x.id)
    assert.deepEqual(ids(all.body), new Set(mine))
    assert.deepEqual(ids((await fhir(`/AuditEvent?patient=${P}&action=C`)).body), new Set([e.deviceWrite.id]))
    assert.deepEqual(
      ids((await fhir(`/AuditEvent?patient=${P}&outcome=8`)).body),
      new Set([e.serverError.id]),
    )
    assert.deepEqual(
      ids((await fhir(`/AuditEvent?agent=Device/${world.devices.bound.id}`)).body),
      new Set([e.deviceWrite.id]),
    )
    assert.deepEqual(ids((await fhir(`/AuditEvent?agent=Patient/${P}`)).body), new Set([e.patientOwn.id]))
    const from = encodeURIComponent(`ge${e.deviceWrite.occurredAt.toISOString()}`)
    const to = encodeURIComponent(`le${e.patientOwn.occurredAt.toISOString()}`)
    assert.deepEqual(
      ids((await fhir(`/AuditEvent?patient=${P}&date=${from}&date=${to}`)).body),
      new Set([e.deviceWrite.id, e.serviceSearch.id, e.patientOwn.id]),
    )
    const day = e.breakGlass.occurredAt.toISOString().slice(0, 10)
    assert.equal(ids((await fhir(`/AuditEvent?patient=${P}&date=${day}`)).body).size >= 1, true)

    // paging: _count=2 and the next links
    const seen: string[] = []
    let url: string | undefined = `/AuditEvent?patient=${P}&_count=2`
    for (let n = 0; url && n < 10; n++) {
      const page = await fhir(url)
      assert.equal(page.status, 200)
      assertValidFhir(page.body)
      assert.ok(page.body.entry.length <= 2)
      seen.push(...page.body.entry.map((x: Json) => x.resource.id))
      const next = page.body.link.find((l: Json) => l.relation === 'next')?.url as string | undefined
      url = next ? next.slice(`${t.config.publicUrl}/fhir/R4`.length) : undefined
    }
    assert.equal(seen.length, mine.length)
    assert.deepEqual(new Set(seen), new Set(mine))
  })

  test('[SRS-AUDIT-008] the plugin mounted on its own serves the same resource', async () => {
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: world.consoleClientId,
      accountId: world.users.auditor.id,
      scope: 'openid audit:read',
    })
    const res = await fhir(`/AuditEvent/${e.breakGlass.id}`, token, '/test-fhir')
    assert.equal(res.status, 200)
    assertValidFhir(res.body)
    assert.equal(res.body.id, e.breakGlass.id)
  })

  test("[SRS-AUDIT-006] FHIR AuditEvent: a clinician, a patient and an admin are refused; the auditor's read is audited as audit.read", async () => {
    for (const u of [world.users.clinicianTeam, world.users.patient, world.users.admin]) {
      const token = await mintToken(t.app, t.config.publicUrl, {
        clientId: world.consoleClientId,
        accountId: u.id,
        scope: 'openid user/*.rs',
        resource: 'fhir',
      })
      const res = await fhir(`/AuditEvent?patient=${world.patients.patient}`, token)
      assert.equal(res.status, 403, `${u.email}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.resourceType, 'OperationOutcome')
    }
    const requestId = `fhir-audit-read-${randomUUID()}`
    await t.app.inject({
      method: 'GET',
      url: `/fhir/R4/AuditEvent/${e.loginFailed.id}`,
      headers: { authorization: `Bearer ${auditorToken}`, 'x-request-id': requestId },
    })
    let rows: { action: string; actor_id: string; resource_id: string }[] = []
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      ;({ rows } = await t.db.query(
        'SELECT action, actor_id, resource_id FROM audit_entries WHERE request_id = $1',
        [requestId],
      ))
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 20))
    }
    assert.deepEqual(rows, [
      { action: 'audit.read', actor_id: world.users.auditor.id, resource_id: e.loginFailed.id },
    ])
  })
})
