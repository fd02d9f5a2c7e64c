// Generated attack suite (issue 11, findings 2 and 3): every operation that grants a role, a
// membership or a consent, found in /openapi.json, tried by every kind of principal of the world
// (test/support/world.ts) on itself and across organisations; and every break-glass across
// organisations. An oracle states what each attempt must answer (ADR-0008, ADR-0012):
//
//   - nobody grants themselves anything (a role, a care-team membership): 403 SEGREGATION_OF_DUTIES
//     for whoever could otherwise have made the grant, and the account is unchanged;
//   - an account holding an administrative role (admin, org-admin) is never given a role or
//     membership that reaches health data (clinician, caregiver, a care team), nor an account that
//     reaches health data an administrative role: 403 SEGREGATION_OF_DUTIES, whoever asks;
//   - each refusal on these grounds leaves a security event in the audit trail;
//   - break-glass opens only on patients of an organisation where the caller holds the clinician
//     role; any other patient answers exactly as an unknown id does (status and body).
//
// Bounded: about 16 principals × a few targets each; a few hundred requests through inject().

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../support/app.ts'
import { ALL_API_SCOPES, buildWorld, mintToken, type World } from '../support/world.ts'
import { TOKEN_PRINCIPALS, tokensFor, worldUserOf, type TokenPrincipal } from './principal-tokens.ts'

/** The operations that grant access to someone: each must be driven below (a new one fails the first test until it is). */
const GRANTING =
  /\/roles\/\{role\}$|\/care-team\/\{userId\}$|\/organisations\/\{id\}\/users$|\/consents$|\/members|\/memberships|\/invitations|\/grants/
const DRIVEN = [
  'PUT /api/v2/organisations/{id}/users/{userId}/roles/{role}',
  'PUT /api/v2/patients/{id}/care-team/{userId}',
  'POST /api/v2/organisations/{id}/users',
  'POST /api/v2/me/consents',
]

const ROLES = ['clinician', 'caregiver', 'org-admin', 'patient'] as const

interface Res {
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are walked loosely in tests
  body: any
  requestId: string
}

describe('escalation: grants on oneself and across organisations, break-glass across organisations', () => {
  let t: TestApp
  let w: World
  let orgBPatient: string
  const tokens = new Map<TokenPrincipal, string>()
  const refusals: Array<{ requestId: string; what: string }> = []

  before(async () => {
    t = await createTestApp()
    w = await buildWorld(t.app)
    orgBPatient = (
      await t.app.vigil.modules.patients.create({
        organisationId: w.orgB,
        demographics: { name: { family: 'OrgB' } },
      })
    ).id
    for (const p of TOKEN_PRINCIPALS) tokens.set(p, (await tokensFor(t.app, t.config.publicUrl, w, p)).api)
  })
  after(() => t?.close())

  async function call(
    principal: TokenPrincipal,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    body?: unknown,
  ): Promise<Res> {
    const requestId = `escalation-${randomUUID()}`
    const res = await t.app.inject({
      method,
      url: `/api/v2${url}`,
      headers: { authorization: `Bearer ${tokens.get(principal)}`, 'x-request-id': requestId },
      ...(body !== undefined ? { payload: body as object } : {}),
    })
    return { status: res.statusCode, body: res.body ? res.json() : undefined, requestId }
  }

  async function freshUser(roles: Array<[string, string | null]>): Promise<string> {
    const id = randomUUID()
    await t.db.query(
      "INSERT INTO users (id, email, email_normalized, status, email_verified_at) VALUES ($1, $2, $2, 'active', now())",
      [id, `esc-${id}@world.test`],
    )
    for (const [role, org] of roles)
      await t.db.query('INSERT INTO user_roles (user_id, role, organisation_id) VALUES ($1, $2, $3)', [
        id,
        role,
        org,
      ])
    return id
  }
  const rolesOf = async (userId: string) =>
    (
      await t.db.query<{ role: string; organisation_id: string | null }>(
        'SELECT role, organisation_id FROM user_roles WHERE user_id = $1 ORDER BY role, organisation_id',
        [userId],
      )
    ).rows
  const inCareTeam = async (patientId: string, userId: string) =>
    (
      await t.db.query('SELECT 1 FROM care_team_members WHERE patient_id = $1 AND user_id = $2', [
        patientId,
        userId,
      ])
    ).rows.length > 0

  /** Who may manage users and care teams of an organisation at all (before segregation of duties). */
  const manages = (p: TokenPrincipal, org: string) =>
    p === 'admin' || (p === 'orgAdminThis' && org === w.orgA) || (p === 'orgAdminOther' && org === w.orgB)
  const isManager = (p: TokenPrincipal) => p === 'admin' || p === 'orgAdminThis' || p === 'orgAdminOther'

  function expectRefusedForSoD(res: Res, what: string, failures: string[]) {
    if (res.status !== 403 || res.body?.code !== 'SEGREGATION_OF_DUTIES')
      failures.push(`${what}: ${res.status} ${res.body?.code ?? ''}, expected 403 SEGREGATION_OF_DUTIES`)
    else refusals.push({ requestId: res.requestId, what })
  }

  test('[SRS-AUTHZ-104] every granting operation of the OpenAPI document is driven by this suite', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const granting = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => ['post', 'put', 'patch'].includes(m) && GRANTING.test(path))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    assert.deepEqual(granting.sort(), [...DRIVEN].sort())
  })

  test('[SRS-AUTHZ-101] nobody grants themselves a role or a care-team membership, in any organisation; the account is unchanged', async () => {
    const failures: string[] = []
    for (const p of TOKEN_PRINCIPALS) {
      const self = worldUserOf(w, p)
      if (!self) continue
      const before = await rolesOf(self.id)
      for (const org of [w.orgA, w.orgB]) {
        for (const role of ROLES) {
          const res = await call(p, 'PUT', `/organisations/${org}/users/${self.id}/roles/${role}`)
          const what = `${p} grants itself ${role} in ${org === w.orgA ? 'A' : 'B'}`
          if (manages(p, org)) expectRefusedForSoD(res, what, failures)
          else if (res.status < 400) failures.push(`${what}: ${res.status}`)
        }
      }
      for (const patient of [w.patients.patient, orgBPatient]) {
        const org = patient === w.patients.patient ? w.orgA : w.orgB
        const wasMember = await inCareTeam(patient, self.id)
        const res = await call(p, 'PUT', `/patients/${patient}/care-team/${self.id}`)
        const what = `${p} puts itself in the care team of a patient of ${org === w.orgA ? 'A' : 'B'}`
        if (manages(p, org)) expectRefusedForSoD(res, what, failures)
        else if (res.status < 400) failures.push(`${what}: ${res.status}`)
        if (!wasMember && (await inCareTeam(patient, self.id))) failures.push(`${what}: joined`)
      }
      // Inviting one's own address never creates or changes an account.
      for (const org of [w.orgA, w.orgB]) {
        const res = await call(p, 'POST', `/organisations/${org}/users`, {
          email: self.email,
          role: 'clinician',
        })
        if (res.status < 400)
          failures.push(`${p} invites itself into ${org === w.orgA ? 'A' : 'B'}: ${res.status}`)
      }
      assert.deepEqual(await rolesOf(self.id), before, `${p}'s roles are unchanged`)
    }
    assert.deepEqual(failures, [])
  })

  test("[SRS-AUTHZ-102] across organisations and accounts: only who manages the organisation grants, never health-data access to an administrator's account nor administration to a health-data account", async () => {
    const failures: string[] = []
    // An account that already holds both (created before the rule, or by the CLI): no care team for it.
    const legacy = await freshUser([
      ['org-admin', w.orgA],
      ['clinician', w.orgA],
    ])
    for (const p of TOKEN_PRINCIPALS) {
      for (const org of [w.orgA, w.orgB]) {
        const label = `${p} in ${org === w.orgA ? 'A' : 'B'}`
        // A plain member of the organisation (a patient account) given a health-data role and an administrative one.
        for (const role of ['clinician', 'org-admin']) {
          const target = await freshUser([['patient', org]])
          const res = await call(p, 'PUT', `/organisations/${org}/users/${target}/roles/${role}`)
          const expected = manages(p, org) ? 200 : isManager(p) ? 404 : 403
          if (res.status !== expected)
            failures.push(`${label}: grant ${role} to a member: ${res.status}, expected ${expected}`)
        }
        // Another organisation's member: pulled in only by who manages that account everywhere it is.
        const foreign = await freshUser([['patient', org === w.orgA ? w.orgB : w.orgA]])
        const pulled = await call(p, 'PUT', `/organisations/${org}/users/${foreign}/roles/clinician`)
        if (pulled.status !== (p === 'admin' ? 200 : isManager(p) ? 404 : 403))
          failures.push(`${label}: pull in another organisation's member: ${pulled.status}`)

        // An administrator's account given health-data access, and a health-data account given administration.
        const orgAdmin = await freshUser([['org-admin', org]])
        const clinician = await freshUser([['clinician', org]])
        for (const [target, role, what] of [
          [orgAdmin, 'clinician', 'clinician to an org-admin'],
          [orgAdmin, 'caregiver', 'caregiver to an org-admin'],
          [clinician, 'org-admin', 'org-admin to a clinician'],
        ] as const) {
          const res = await call(p, 'PUT', `/organisations/${org}/users/${target}/roles/${role}`)
          if (manages(p, org)) expectRefusedForSoD(res, `${label}: ${what}`, failures)
          else if (res.status < 400) failures.push(`${label}: ${what}: ${res.status}`)
          if ((await rolesOf(target)).some((r) => r.role === role))
            failures.push(`${label}: ${what}: granted`)
        }
        // The platform administrator's own account is never given an organisation's health-data role.
        const toAdmin = await call(
          p,
          'PUT',
          `/organisations/${org}/users/${w.users.admin.id}/roles/clinician`,
        )
        if (toAdmin.status < 400)
          failures.push(`${label}: clinician to the platform admin: ${toAdmin.status}`)

        // Care teams: a clinician of the organisation joins; an account that also administers never does.
        const patient = org === w.orgA ? w.patients.otherPatient : orgBPatient
        const member = await freshUser([['clinician', org]])
        const joined = await call(p, 'PUT', `/patients/${patient}/care-team/${member}`)
        const expectedJoin = manages(p, org) ? 201 : isManager(p) ? 404 : 403
        if (joined.status !== expectedJoin)
          failures.push(`${label}: care team of a clinician: ${joined.status}, expected ${expectedJoin}`)
        if (org === w.orgA) {
          const res = await call(p, 'PUT', `/patients/${patient}/care-team/${legacy}`)
          if (manages(p, org))
            expectRefusedForSoD(res, `${label}: care team of an org-admin who is also a clinician`, failures)
          else if (res.status < 400)
            failures.push(`${label}: care team of an org-admin clinician: ${res.status}`)
        }
        // Invitations create a new account only, with the one role, in an organisation the caller manages.
        const invited = await call(p, 'POST', `/organisations/${org}/users`, {
          email: `esc-${randomUUID()}@world.test`,
          role: 'clinician',
        })
        const expectedInvite = manages(p, org) ? 201 : isManager(p) ? 404 : 403
        if (invited.status !== expectedInvite)
          failures.push(`${label}: invitation: ${invited.status}, expected ${expectedInvite}`)
      }
    }
    assert.equal(
      await inCareTeam(w.patients.otherPatient, legacy),
      false,
      'the org-admin clinician joined no care team',
    )
    assert.deepEqual(failures, [])
  })

  test('[SRS-AUTHZ-102] an account that holds an administrative role and a clinician role (from before the rule) reaches no health data, even in the care team', async () => {
    const both = await freshUser([
      ['org-admin', w.orgA],
      ['clinician', w.orgA],
    ])
    await t.db.query(
      'INSERT INTO care_team_members (patient_id, user_id, organisation_id) VALUES ($1, $2, $3)',
      [w.patients.patient, both, w.orgA],
    )
    const requestId = `escalation-${randomUUID()}`
    const token = await mintToken(t.app, t.config.publicUrl, {
      clientId: w.consoleClientId,
      accountId: both,
      scope: ALL_API_SCOPES,
    })
    const read = await t.app.inject({
      method: 'GET',
      url: `/api/v2/patients/${w.patients.patient}`,
      headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId },
    })
    assert.equal(read.statusCode, 403, read.body)
    assert.equal(read.json().code, 'SEGREGATION_OF_DUTIES')
    assert.ok(!read.body.includes(`Patient${w.suffix}`), 'no demographics in the refusal')
    refusals.push({ requestId, what: 'an org-admin clinician reads a patient of its care team' })
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v2/patients',
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(list.statusCode, 403, 'no list of patients either')
    assert.equal(list.json().code, 'SEGREGATION_OF_DUTIES')
  })

  test('[SRS-AUTHZ-102] a consent is granted only by the patient, on their own record, to someone else', async () => {
    const failures: string[] = []
    const grantee = await freshUser([['clinician', w.orgB]])
    const body = (granteeId: string) => ({
      granteeKind: 'user',
      granteeId,
      categories: ['reports'],
      access: 'read',
      purpose: 'treatment',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    })
    for (const p of TOKEN_PRINCIPALS) {
      const self = worldUserOf(w, p)
      const res = await call(p, 'POST', '/me/consents', body(grantee))
      const isPatient = p === 'patientSelf' || p === 'patientOther'
      if (isPatient ? res.status !== 201 : res.status < 400)
        failures.push(`${p} grants a consent: ${res.status}`)
      if (isPatient) {
        const own = p === 'patientSelf' ? w.patients.patient : w.patients.otherPatient
        const { rows } = await t.db.query<{ patient_id: string }>(
          'SELECT patient_id FROM consents WHERE id = $1',
          [res.body.id],
        )
        if (rows[0]?.patient_id !== own) failures.push(`${p}'s consent landed on ${rows[0]?.patient_id}`)
      }
      if (self) {
        const toSelf = await call(p, 'POST', '/me/consents', body(self.id))
        if (toSelf.status < 400) failures.push(`${p} grants itself a consent: ${toSelf.status}`)
      }
    }
    assert.deepEqual(failures, [])
  })

  test('[SRS-AUTHZ-103] break-glass opens only on patients of an organisation where the caller is a clinician; any other patient answers exactly as an unknown id', async () => {
    const failures: string[] = []
    const orgAPatient = async () =>
      (
        await t.app.vigil.modules.patients.create({
          organisationId: w.orgA,
          demographics: { name: { family: 'BreakA' } },
        })
      ).id
    const orgBFresh = async () =>
      (
        await t.app.vigil.modules.patients.create({
          organisationId: w.orgB,
          demographics: { name: { family: 'BreakB' } },
        })
      ).id
    const clinicianOrg: Partial<Record<TokenPrincipal, string>> = {
      clinicianTeam: w.orgA,
      clinicianOutside: w.orgA,
      clinicianBreakGlass: w.orgA,
      clinicianConsent: w.orgB,
      clinicianRevoked: w.orgB,
    }
    const reason = { reason: 'Unconscious in the emergency department; the care team cannot be reached' }
    const shape = (r: Res) =>
      JSON.stringify({ status: r.status, body: { ...r.body, instance: undefined, requestId: undefined } })
    let opened = 0
    for (const p of TOKEN_PRINCIPALS) {
      const unknown = await call(p, 'POST', `/patients/${randomUUID()}/break-glass`, reason)
      const home = clinicianOrg[p]
      if (!home) {
        // Not a clinician: refused outright, whoever the patient.
        for (const target of [await orgAPatient(), w.patients.canary]) {
          const res = await call(p, 'POST', `/patients/${target}/break-glass`, reason)
          if (res.status !== 403) failures.push(`${p} opens break-glass: ${res.status}, expected 403`)
        }
        continue
      }
      if (unknown.status !== 404) failures.push(`${p}: unknown patient answers ${unknown.status}`)
      const targets = [
        { id: await orgAPatient(), org: w.orgA, label: 'a patient of A' },
        { id: await orgBFresh(), org: w.orgB, label: 'a patient of B' },
        { id: w.patients.canary, org: 'C', label: 'the canary (C)' },
        // The patient who consented to clinicianConsent (of B): a consent is not an organisation.
        { id: w.patients.patient, org: w.orgA, label: "the world's patient (A)" },
      ]
      for (const target of targets) {
        const res = await call(p, 'POST', `/patients/${target.id}/break-glass`, reason)
        if (target.org === home) {
          if (res.status !== 201) failures.push(`${p} on ${target.label}: ${res.status}, expected 201`)
          else opened++
        } else if (shape(res) !== shape(unknown)) {
          failures.push(
            `${p} on ${target.label}: ${shape(res)} differs from the unknown id's ${shape(unknown)}`,
          )
        }
      }
    }
    assert.ok(opened >= 5, `break-glass opened within the caller's organisation (${opened})`)
    const { rows } = await t.db.query<{ n: number | string }>(
      "SELECT count(*) AS n FROM break_glass_sessions s JOIN patients p ON p.id = s.patient_id WHERE NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = s.user_id AND r.role = 'clinician' AND r.organisation_id = p.organisation_id)",
    )
    assert.equal(
      Number(rows[0]?.n),
      0,
      "no session exists on a patient outside the clinician's organisations",
    )
    assert.deepEqual(failures, [])
  })

  test('[SRS-AUTHZ-102] every refusal for segregation of duties left a security event in the audit trail', async () => {
    assert.ok(refusals.length > 0, 'the suites above were refused on segregation of duties')
    const ids = refusals.map((r) => r.requestId)
    let found = new Set<string>()
    for (let i = 0; i < 50 && found.size < ids.length; i++) {
      const { rows } = await t.db.query<{ request_id: string }>(
        "SELECT request_id FROM audit_entries WHERE action = 'segregation-of-duties.refused' AND outcome = 'denied' AND request_id = ANY($1)",
        [ids],
      )
      found = new Set(rows.map((r) => r.request_id))
      if (found.size < ids.length) await new Promise((r) => setTimeout(r, 50))
    }
    const missing = refusals.filter((r) => !found.has(r.requestId)).map((r) => r.what)
    assert.deepEqual(missing, [])
  })
})
