// Consent (ADR-0008): a patient grants, lists and revokes access to categories of their data. The
// policy decision point reads consents on every decision — no cache — so a revocation refuses the
// grantee's very next request; caregivers act for a patient only through such a grant. Grants and
// revocations write their own audit entries in the same transaction.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, worldApiRequest, type World, type WorldUser } from '../support/world.ts'
import { auditEntriesOf } from '../support/audit.ts'

describe('consent: grant, list, revoke', () => {
  let t: TestApp
  let w: World
  const inAYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString()

  const api = (user: WorldUser, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
    worldApiRequest(t.app, t.config.publicUrl, w, user, method, url, body)
  const entries = (requestId: string, count: number) => auditEntriesOf(t.db, requestId, count)

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
  })
  after(() => t.close())

  test("[SRS-AUTHZ-008] revoking a consent refuses the clinician's very next read; grant and revocation are each audited in one entry written in their own transaction", async () => {
    const read = () => api(w.users.clinicianOrgB, 'GET', `/patients/${w.patients.patient}`)
    assert.equal((await read()).status, 404, 'no relationship yet')

    const granted = await api(w.users.patient, 'POST', '/me/consents', {
      granteeKind: 'user',
      granteeId: w.users.clinicianOrgB.id,
      categories: ['demographics'],
      access: 'read',
      purpose: 'treatment',
      expiresAt: inAYear(),
    })
    assert.equal(granted.status, 201, granted.raw)
    assert.equal(granted.body.active, true)
    const grantEntries = await entries(granted.requestId, 1)
    // One entry for the request, written in the grant's own transaction (no second one after the response).
    await new Promise((r) => setTimeout(r, 100))
    assert.equal((await entries(granted.requestId, 1)).length, 1)
    const own = grantEntries.find((e) => e.action === 'consent.grant')
    assert.ok(own, 'a consent.grant entry')
    assert.equal(own.consent_id, granted.body.id)
    assert.equal(own.patient_id, w.patients.patient)

    const allowed = await read()
    assert.equal(allowed.status, 200)
    const [entry] = await entries(allowed.requestId, 1)
    assert.equal(entry?.consent_id, granted.body.id, "the consent that decided is in the read's audit entry")
    assert.equal(entry?.decision_rule, 'consent.user')

    const listed = await api(w.users.patient, 'GET', '/me/consents')
    assert.ok(
      listed.body.consents.some((c: { id: string; active: boolean }) => c.id === granted.body.id && c.active),
    )

    const revoked = await api(w.users.patient, 'DELETE', `/me/consents/${granted.body.id}`)
    assert.equal(revoked.status, 204)
    assert.ok(
      (await entries(revoked.requestId, 1)).some(
        (e) => e.action === 'consent.revoke' && e.consent_id === granted.body.id,
      ),
    )
    const refused = await read()
    assert.equal(refused.status, 404, 'the very next request after revocation is refused')
    const [denial] = await entries(refused.requestId, 1)
    assert.equal(denial?.outcome, 'denied')

    const after = await api(w.users.patient, 'GET', '/me/consents')
    assert.ok(
      after.body.consents.some(
        (c: { id: string; active: boolean; revokedAt: string | null }) =>
          c.id === granted.body.id && !c.active && c.revokedAt !== null,
      ),
    )
    assert.equal(
      (await api(w.users.patient, 'DELETE', `/me/consents/${granted.body.id}`)).status,
      204,
      'revoking twice is harmless',
    )
    assert.equal(
      (await api(w.users.otherPatient, 'DELETE', `/me/consents/${w.consents.live}`)).status,
      404,
      "another patient's consent",
    )
  })

  test('[SRS-AUTHZ-008] a consent covers only its categories and access, and only the patient grants it, for a bounded time', async () => {
    const granted = await api(w.users.patient, 'POST', '/me/consents', {
      granteeKind: 'user',
      granteeId: w.users.clinicianOutside.id,
      categories: ['device-data'],
      access: 'read',
      purpose: 'treatment',
      expiresAt: inAYear(),
    })
    assert.equal(granted.status, 201)
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.patient}`)).status,
      404,
      'device data only: no demographics',
    )

    const bad = (body: Record<string, unknown>) =>
      api(w.users.patient, 'POST', '/me/consents', {
        granteeKind: 'user',
        granteeId: w.users.clinicianOutside.id,
        categories: ['demographics'],
        access: 'read',
        purpose: 'treatment',
        expiresAt: inAYear(),
        ...body,
      })
    assert.equal(
      (await bad({ expiresAt: new Date(Date.now() - 1000).toISOString() })).status,
      400,
      'in the past',
    )
    assert.equal(
      (await bad({ expiresAt: new Date(Date.now() + 800 * 86_400_000).toISOString() })).status,
      400,
      'beyond two years',
    )
    assert.equal((await bad({ purpose: 'marketing' })).status, 400)
    assert.equal(
      (await bad({ granteeId: w.users.otherPatient.id })).status,
      422,
      'a patient is not a grantee',
    )
    assert.equal((await bad({ granteeId: randomUUID() })).status, 422)
    assert.equal(
      (
        await api(w.users.clinicianTeam, 'POST', '/me/consents', {
          granteeKind: 'user',
          granteeId: w.users.clinicianOutside.id,
          categories: ['demographics'],
          access: 'read',
          purpose: 'treatment',
          expiresAt: inAYear(),
        })
      ).status,
      403,
      'only a patient grants',
    )

    // An organisation grant reaches that organisation's clinicians.
    const org = await api(w.users.otherPatient, 'POST', '/me/consents', {
      granteeKind: 'organisation',
      granteeId: w.orgB,
      categories: ['demographics'],
      access: 'read',
      purpose: 'care-coordination',
      expiresAt: inAYear(),
    })
    assert.equal(org.status, 201)
    assert.equal(
      (await api(w.users.clinicianOrgB, 'GET', `/patients/${w.patients.otherPatient}`)).status,
      200,
    )
    assert.equal(
      (await api(w.users.clinicianOutside, 'GET', `/patients/${w.patients.otherPatient}`)).status,
      404,
      'a clinician of another organisation',
    )
  })

  test('[SRS-AUTHZ-009] a caregiver acts for a patient only through a grant: without one 404, with one 200, revoked 404', async () => {
    assert.equal((await api(w.users.caregiverWith, 'GET', `/patients/${w.patients.patient}`)).status, 200)
    assert.equal((await api(w.users.caregiverWithout, 'GET', `/patients/${w.patients.patient}`)).status, 404)
    const listed = await api(w.users.caregiverWithout, 'GET', '/patients')
    assert.deepEqual(listed.body.patients, [])

    const granted = await api(w.users.patient, 'POST', '/me/consents', {
      granteeKind: 'user',
      granteeId: w.users.caregiverWithout.id,
      categories: ['demographics', 'device-data'],
      access: 'read',
      purpose: 'caregiving',
      expiresAt: inAYear(),
    })
    assert.equal(granted.status, 201)
    const read = await api(w.users.caregiverWithout, 'GET', `/patients/${w.patients.patient}`)
    assert.equal(read.status, 200)
    for (const v of w.canaryValues) assert.ok(!read.raw.includes(v))
    const list = await api(w.users.caregiverWithout, 'GET', '/patients')
    assert.deepEqual(
      list.body.patients.map((p: { id: string }) => p.id),
      [w.patients.patient],
    )

    assert.equal((await api(w.users.patient, 'DELETE', `/me/consents/${granted.body.id}`)).status, 204)
    assert.equal((await api(w.users.caregiverWithout, 'GET', `/patients/${w.patients.patient}`)).status, 404)
  })
})
