// The policy rules one by one (ADR-0008): each permits what it should and nothing else. Pure
// evaluate() over hand-made principals and facts — no database, no HTTP.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Principal } from '../authn/index.ts'
import type { ConsentFact, PatientFacts } from './decision.ts'
import { evaluate } from './pdp.ts'
import { ACTIONS, RULES, type Action } from './rules.ts'

const NOW = new Date('2026-11-22T12:00:00Z')
const ORG_A = '00000000-0000-4000-8000-00000000000a'
const ORG_B = '00000000-0000-4000-8000-00000000000b'
const PATIENT = '00000000-0000-4000-8000-000000000001'
const ALL_SCOPES = [...new Set(Object.values(ACTIONS).flatMap((m) => m.scopes))]

const user = (
  id: string,
  roles: Array<[string, string | null]>,
  extra: Partial<Principal> = {},
): Principal => ({
  kind: 'user',
  id,
  clientId: 'console',
  scopes: ALL_SCOPES,
  roles: roles.map(([r]) => r),
  memberships: roles.map(([role, organisationId]) => ({ role, organisationId })),
  patientId: null,
  ...extra,
})
const facts = (f: Partial<PatientFacts> = {}): PatientFacts => ({
  exists: true,
  erased: false,
  organisationId: ORG_A,
  careTeam: false,
  consents: [],
  breakGlass: null,
  ...f,
})
const consent = (c: Partial<ConsentFact>): ConsentFact => ({
  id: 'consent-1',
  granteeKind: 'user',
  granteeId: 'u-clin',
  categories: ['device-data', 'demographics', 'reports', 'devices'],
  access: 'read',
  purpose: 'treatment',
  expiresAt: new Date(NOW.getTime() + 86_400_000),
  ...c,
})

const admin = user('u-admin', [['admin', null]])
const auditor = user('u-aud', [['auditor', null]])
const orgAdminA = user('u-oa', [['org-admin', ORG_A]])
const clinician = user('u-clin', [['clinician', ORG_A]])
const caregiver = user('u-care', [['caregiver', null]])
const patient = user('u-pat', [['patient', ORG_A]], { patientId: PATIENT })
const device: Principal = {
  kind: 'device',
  id: 'dev-1',
  clientId: 'dev-client',
  scopes: ALL_SCOPES,
  roles: [],
  memberships: [],
  patientId: PATIENT,
  organisationId: ORG_A,
}
const service: Principal = {
  kind: 'client',
  id: 'svc',
  clientId: 'svc',
  scopes: ALL_SCOPES,
  roles: [],
  memberships: [],
  patientId: null,
  organisationId: ORG_A,
}

const ALL = Object.keys(ACTIONS) as Action[]
const CLINICAL_READ: Action[] = ['patients.read', 'device-data.read', 'devices.read', 'reports.read']
const CLINICAL_WRITE: Action[] = ['patients.write', 'device-data.write', 'reports.write']
const onPatient = (p: Principal, action: string, f: PatientFacts = facts()) =>
  evaluate(p, action, { type: 'x', patientId: PATIENT }, f, NOW)
const routeLevel = (p: Principal, action: string) => evaluate(p, action, { type: 'x' }, undefined, NOW)
/** The actions a principal passes at the route level (the rules' `who` halves). */
const routeActions = (p: Principal) => ALL.filter((a) => routeLevel(p, a).effect === 'permit').sort()

describe('policy rules, one by one', () => {
  test('[SRS-AUTHZ-012] every rule names only known actions, and every rule id is unique', () => {
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length)
    for (const r of RULES) for (const a of r.actions) assert.ok(a in ACTIONS, `${r.id}: ${a}`)
  })

  test('[SRS-AUTHZ-012] admin: manages clients, organisations, users, care teams, devices, patients, break-glass review and security events — and reads no PHI', () => {
    assert.deepEqual(routeActions(admin), [
      'account.read',
      'break-glass.review',
      'care-team.manage',
      'clients.manage',
      'devices.manage',
      'organisations.manage',
      'patients.manage',
      'security-events.manage',
      'security-events.read',
      'users.manage',
    ])
    assert.equal(onPatient(admin, 'care-team.manage').effect, 'permit', 'any organisation')
    for (const a of CLINICAL_READ) assert.equal(routeLevel(admin, a).effect, 'deny')
  })

  test('[SRS-AUTHZ-012] auditor: the trail and security events only', () => {
    assert.deepEqual(routeActions(auditor), ['account.read', 'audit.read', 'security-events.read'])
  })

  test('[SRS-AUTHZ-012] org-admin: users, care teams, devices and patients of their own organisation only (another answers concealed)', () => {
    assert.deepEqual(routeActions(orgAdminA), [
      'account.read',
      'care-team.manage',
      'devices.manage',
      'patients.manage',
      'subscriptions.manage',
      'users.manage',
    ])
    for (const a of ['users.manage', 'devices.manage', 'patients.manage', 'care-team.manage']) {
      assert.equal(
        evaluate(orgAdminA, a, { type: 'x', organisationId: ORG_A }, undefined, NOW).effect,
        'permit',
        a,
      )
      const other = evaluate(orgAdminA, a, { type: 'x', organisationId: ORG_B }, undefined, NOW)
      assert.deepEqual([other.effect, other.conceal], ['deny', true], a)
      assert.equal(
        evaluate(orgAdminA, a, { type: 'x', organisationId: null }, undefined, NOW).effect,
        'deny',
        `${a}: platform-level objects`,
      )
    }
    assert.equal(onPatient(orgAdminA, 'care-team.manage').effect, 'permit', 'a patient of their organisation')
    assert.equal(
      onPatient(orgAdminA, 'care-team.manage', facts({ organisationId: ORG_B })).conceal,
      true,
      'a patient of another organisation',
    )
    assert.equal(routeLevel(orgAdminA, 'organisations.manage').effect, 'deny')
    for (const a of CLINICAL_READ) assert.equal(routeLevel(orgAdminA, a).effect, 'deny', 'no PHI')
  })

  test('[SRS-AUTHZ-012] patient: reads all of their own record, manages their consents and binds their devices; nothing of anyone else', () => {
    for (const a of [...CLINICAL_READ, 'consent.manage', 'devices.bind']) {
      assert.equal(onPatient(patient, a).rule, 'patient.own-record', a)
      const other = evaluate(
        patient,
        a,
        { type: 'x', patientId: '00000000-0000-4000-8000-000000000002' },
        facts(),
        NOW,
      )
      assert.deepEqual([other.effect, other.conceal], ['deny', true], a)
    }
    for (const a of CLINICAL_WRITE)
      assert.equal(
        onPatient(patient, a).effect,
        'deny',
        `${a}: a patient does not write clinical data through the API`,
      )
  })

  test('[SRS-AUTHZ-012] a SMART launch context does not make a clinician the patient (own-record needs the patient role)', () => {
    const launched = user('u-clin', [['clinician', ORG_A]], { patientId: PATIENT })
    assert.equal(onPatient(launched, 'consent.manage').effect, 'deny')
    assert.equal(onPatient(launched, 'patients.read').effect, 'deny', 'no care team, consent or break-glass')
  })

  test('[SRS-AUTHZ-012] device: writes readings for the patient it is bound to now, and nothing else', () => {
    assert.deepEqual(routeActions(device), ['account.read', 'device-data.write'])
    assert.equal(onPatient(device, 'device-data.write').rule, 'device.bound-patient')
    assert.equal(
      evaluate(
        { ...device, patientId: null },
        'device-data.write',
        { type: 'x', patientId: PATIENT },
        facts(),
        NOW,
      ).effect,
      'deny',
      'unbound',
    )
    assert.equal(onPatient(device, 'device-data.read').effect, 'deny')
  })

  test("[SRS-AUTHZ-012] clinician in the care team: reads and writes the patient's clinical data", () => {
    for (const a of [...CLINICAL_READ, ...CLINICAL_WRITE])
      assert.equal(onPatient(clinician, a, facts({ careTeam: true })).rule, 'clinician.care-team', a)
    for (const a of [...CLINICAL_READ, ...CLINICAL_WRITE])
      assert.equal(onPatient(clinician, a).conceal, true, `${a}: outside the team`)
    assert.equal(onPatient(clinician, 'consent.manage').effect, 'deny')
  })

  test('[SRS-AUTHZ-012] consent to a user: its categories, its access (read vs read-write), until it expires', () => {
    const read = consent({ categories: ['device-data'], access: 'read' })
    const d = onPatient(clinician, 'device-data.read', facts({ consents: [read] }))
    assert.deepEqual([d.effect, d.rule, d.consentId], ['permit', 'consent.user', 'consent-1'])
    assert.equal(
      onPatient(clinician, 'patients.read', facts({ consents: [read] })).effect,
      'deny',
      'another category',
    )
    assert.equal(
      onPatient(clinician, 'device-data.write', facts({ consents: [read] })).effect,
      'deny',
      'read only',
    )
    assert.equal(
      onPatient(clinician, 'device-data.write', facts({ consents: [consent({ access: 'read-write' })] }))
        .effect,
      'permit',
    )
    assert.equal(
      onPatient(clinician, 'device-data.read', facts({ consents: [consent({ expiresAt: NOW })] })).effect,
      'deny',
      'expired at this instant',
    )
    assert.equal(
      onPatient(clinician, 'device-data.read', facts({ consents: [consent({ granteeId: 'someone-else' })] }))
        .effect,
      'deny',
      'another grantee',
    )
    assert.equal(
      onPatient(caregiver, 'reports.read', facts({ consents: [consent({ granteeId: 'u-care' })] })).rule,
      'consent.user',
      'caregivers through a grant',
    )
    assert.equal(onPatient(caregiver, 'reports.read').conceal, true, 'caregivers without one')
  })

  test('[SRS-AUTHZ-012] consent to an organisation reaches its clinicians, not its caregivers or other organisations', () => {
    const org = consent({ granteeKind: 'organisation', granteeId: ORG_A })
    assert.equal(
      onPatient(clinician, 'patients.read', facts({ consents: [org] })).rule,
      'consent.organisation',
    )
    assert.equal(
      onPatient(user('u-b', [['clinician', ORG_B]]), 'patients.read', facts({ consents: [org] })).effect,
      'deny',
    )
    assert.equal(
      onPatient(user('u-care', [['caregiver', ORG_A]]), 'patients.read', facts({ consents: [org] })).effect,
      'deny',
    )
  })

  test("[SRS-AUTHZ-012] break-glass: a clinician's open session permits, marked; expired it does not; only clinicians open one", () => {
    const open = facts({ breakGlass: { id: 'bg-1', expiresAt: new Date(NOW.getTime() + 60_000) } })
    const d = onPatient(clinician, 'patients.read', open)
    assert.deepEqual(
      [d.effect, d.rule, d.breakGlass, d.breakGlassId],
      ['permit', 'clinician.break-glass', true, 'bg-1'],
    )
    assert.equal(
      onPatient(clinician, 'patients.read', facts({ breakGlass: { id: 'bg-1', expiresAt: NOW } })).effect,
      'deny',
    )
    assert.equal(onPatient(caregiver, 'patients.read', open).effect, 'deny')
    assert.equal(routeLevel(clinician, 'break-glass.open').effect, 'permit')
    for (const p of [patient, caregiver, orgAdminA, admin])
      assert.equal(routeLevel(p, 'break-glass.open').effect, 'deny')
  })

  test('[SRS-AUTHZ-012] backend service: reads the patients of its own organisation, writes nothing', () => {
    for (const a of CLINICAL_READ) assert.equal(onPatient(service, a).rule, 'service.own-organisation', a)
    assert.equal(onPatient(service, 'patients.read', facts({ organisationId: ORG_B })).conceal, true)
    for (const a of CLINICAL_WRITE) assert.equal(onPatient(service, a).effect, 'deny')
    assert.equal(onPatient({ ...service, organisationId: null }, 'patients.read').effect, 'deny')
  })
  test('[SRS-API-540] a patient unpairs only their own devices (devices.unpair); nobody else has a rule for it', () => {
    assert.equal(onPatient(patient, 'devices.unpair').rule, 'patient.own-record')
    const other = evaluate(
      patient,
      'devices.unpair',
      { type: 'devices', patientId: '00000000-0000-4000-8000-000000000002' },
      facts(),
      NOW,
    )
    assert.deepEqual([other.effect, other.conceal], ['deny', true])
    for (const p of [admin, orgAdminA, clinician, caregiver, auditor, device, service])
      assert.equal(routeLevel(p, 'devices.unpair').effect, 'deny', p.id)
  })

  test("[SRS-API-542] a patient's target ranges are set by their care team only: not by consent, break-glass, the patient or an administrator", () => {
    assert.equal(
      onPatient(clinician, 'target-ranges.write', facts({ careTeam: true })).rule,
      'clinician.care-team-target-ranges',
    )
    assert.equal(onPatient(clinician, 'target-ranges.write').conceal, true, 'outside the team')
    assert.equal(
      onPatient(
        clinician,
        'target-ranges.write',
        facts({
          consents: [
            consent({
              granteeKind: 'user',
              granteeId: clinician.id,
              categories: ['*'],
              access: 'read-write',
            }),
          ],
        }),
      ).effect,
      'deny',
      'a consent',
    )
    assert.equal(
      onPatient(
        clinician,
        'target-ranges.write',
        facts({
          breakGlass: { id: 'bg', expiresAt: new Date(NOW.getTime() + 60_000) } as PatientFacts['breakGlass'],
        }),
      ).effect,
      'deny',
      'break-glass',
    )
    for (const p of [patient, caregiver, admin, orgAdminA, auditor, device, service])
      assert.equal(routeLevel(p, 'target-ranges.write').effect, 'deny', p.id)
    const both = user('u-both', [
      ['clinician', ORG_A],
      ['org-admin', ORG_A],
    ])
    assert.equal(
      onPatient(both, 'target-ranges.write', facts({ careTeam: true })).problem,
      'SEGREGATION_OF_DUTIES',
      "an administrator's account reaches no health data",
    )
  })
})
