// Break-glass (ADR-0008): a clinician outside the care team opens emergency access with a written
// reason; it works for 60 minutes, then stops; every request it permits is marked in its audit
// entry; administrators list the sessions and mark them reviewed.
//
// "Then stops" is proven without waiting an hour: the session's started_at and expires_at are moved
// 61 minutes into the past by SQL (the 60-minute check constraint still holds), which is exactly the
// row an hour-old session would be; the policy decision point compares expires_at with the clock on
// every decision.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { buildWorld, worldApiRequest, type World, type WorldUser } from '../support/world.ts'
import { auditEntriesOf } from '../support/audit.ts'

describe('break-glass', () => {
  let t: TestApp
  let w: World

  const api = (user: WorldUser, method: 'GET' | 'POST', url: string, body?: unknown) =>
    worldApiRequest(t.app, t.config.publicUrl, w, user, method, url, body)
  const entries = (requestId: string, count: number) => auditEntriesOf(t.db, requestId, count)

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
  })
  after(() => t.close())

  test('[SRS-AUTHZ-010] break-glass opens 60 minutes of access with a reason, marks every access in the audit trail, then stops', async () => {
    const clinician = w.users.clinicianOutside
    const read = () => api(clinician, 'GET', `/patients/${w.patients.otherPatient}`)
    assert.equal((await read()).status, 404)

    const url = `/patients/${w.patients.otherPatient}/break-glass`
    assert.equal((await api(clinician, 'POST', url, { reason: 'too short' })).status, 400)
    // Ten characters only with the spaces around them: the stored (trimmed) reason would be three.
    const padded = await api(clinician, 'POST', url, { reason: '   abc    ' })
    assert.equal(padded.status, 400, padded.raw)
    assert.equal(padded.body.errors?.[0]?.pointer, '/body/reason')
    const stored = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM break_glass_sessions WHERE patient_id = $1 AND user_id = $2',
      [w.patients.otherPatient, clinician.id],
    )
    assert.equal(Number(stored.rows[0]?.n), 0, 'nothing stored')
    assert.equal(
      (
        await api(clinician, 'POST', `/patients/${randomUUID()}/break-glass`, {
          reason: 'Unconscious in the emergency department',
        })
      ).status,
      404,
    )
    assert.equal(
      (
        await api(w.users.caregiverWithout, 'POST', url, {
          reason: 'Unconscious in the emergency department',
        })
      ).status,
      403,
      'clinicians only',
    )

    const opened = await api(clinician, 'POST', url, { reason: 'Unconscious in the emergency department' })
    assert.equal(opened.status, 201, opened.raw)
    assert.equal(
      new Date(opened.body.expiresAt).getTime() - new Date(opened.body.startedAt).getTime(),
      60 * 60_000,
    )
    await new Promise((r) => setTimeout(r, 100))
    const openEntries = await entries(opened.requestId, 1)
    assert.equal(openEntries.length, 1, "the request's one entry, written in the session's transaction")
    const openEntry = openEntries.find((e) => e.action === 'break-glass.open')
    assert.ok(openEntry, 'its own break-glass.open entry')
    assert.equal(openEntry.break_glass, true)
    assert.equal(openEntry.patient_id, w.patients.otherPatient)
    assert.equal(openEntry.resource_id, opened.body.id)

    for (let i = 0; i < 2; i++) {
      const allowed = await read()
      assert.equal(allowed.status, 200)
      const [entry] = await entries(allowed.requestId, 1)
      assert.equal(entry?.break_glass, true, 'each access it permits is marked')
      assert.equal(entry?.decision_rule, 'clinician.break-glass')
      assert.equal(entry?.patient_id, w.patients.otherPatient)
    }
    const list = await api(clinician, 'GET', '/patients')
    assert.ok(list.body.patients.some((p: { id: string }) => p.id === w.patients.otherPatient))

    // An hour later: the same row, 61 minutes older.
    await t.db.query(
      "UPDATE break_glass_sessions SET started_at = started_at - interval '61 minutes', expires_at = expires_at - interval '61 minutes' WHERE id = $1",
      [opened.body.id],
    )
    assert.equal((await read()).status, 404, 'after 60 minutes the access stops')
    assert.ok(
      !(await api(clinician, 'GET', '/patients')).body.patients.some(
        (p: { id: string }) => p.id === w.patients.otherPatient,
      ),
    )

    // The database refuses a session longer than 60 minutes, whatever the code does.
    await assert.rejects(
      t.db.query(
        "INSERT INTO break_glass_sessions (id, user_id, patient_id, reason, started_at, expires_at) VALUES ($1, $2, $3, 'a long enough reason', now(), now() + interval '61 minutes')",
        [randomUUID(), clinician.id, w.patients.otherPatient],
      ),
      /break_glass_sessions_at_most_an_hour|check constraint/,
    )
  })

  test('[SRS-AUTHZ-011] administrators list break-glass sessions for review and mark them reviewed; nobody else sees them', async () => {
    const listed = await api(w.users.admin, 'GET', '/break-glass?reviewed=false')
    assert.equal(listed.status, 200)
    const session = listed.body.sessions.find((s: { id: string }) => s.id === w.breakGlassId)
    assert.ok(session, "the world's open session is listed")
    assert.equal(session.userId, w.users.clinicianBreakGlass.id)
    assert.equal(session.patientId, w.patients.patient)
    assert.equal(session.reason, 'Unconscious patient in the emergency room')

    const reviewed = await api(w.users.admin, 'POST', `/break-glass/${w.breakGlassId}/review`)
    assert.equal(reviewed.status, 200)
    assert.equal(reviewed.body.reviewedBy, w.users.admin.id)
    assert.ok(reviewed.body.reviewedAt)
    assert.ok(
      !(await api(w.users.admin, 'GET', '/break-glass?reviewed=false')).body.sessions.some(
        (s: { id: string }) => s.id === w.breakGlassId,
      ),
    )
    assert.ok(
      (await api(w.users.admin, 'GET', '/break-glass?reviewed=true')).body.sessions.some(
        (s: { id: string }) => s.id === w.breakGlassId,
      ),
    )
    assert.equal((await api(w.users.admin, 'POST', `/break-glass/${randomUUID()}/review`)).status, 404)

    for (const user of [w.users.orgAdminA, w.users.clinicianBreakGlass, w.users.auditor])
      assert.equal((await api(user, 'GET', '/break-glass')).status, 403)
  })
})
