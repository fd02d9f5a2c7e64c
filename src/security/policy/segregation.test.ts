// Segregation of duties and break-glass scope in the policy rules (ADR-0012): pure evaluate() over
// hand-made principals, grants and facts — no database, no HTTP. The HTTP-level proof over every
// granting operation and principal is test/security/escalation.test.ts.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Principal } from '../authn/index.ts'
import type { AccessGrant, GranteeFacts, PatientFacts } from './decision.ts'
import { evaluate } from './pdp.ts'
import { ACTIONS, FORBIDS, RULES } from './rules.ts'

const NOW = new Date('2026-12-04T12:00:00Z')
const ORG_A = '00000000-0000-4000-8000-00000000000a'
const ORG_B = '00000000-0000-4000-8000-00000000000b'
const PATIENT = '00000000-0000-4000-8000-000000000001'
const ALL_SCOPES = [...new Set(Object.values(ACTIONS).flatMap((m) => m.scopes))]

const user = (id: string, roles: Array<[string, string | null]>): Principal => ({
  kind: 'user',
  id,
  clientId: 'console',
  scopes: ALL_SCOPES,
  roles: roles.map(([r]) => r),
  memberships: roles.map(([role, organisationId]) => ({ role, organisationId })),
  patientId: null,
})
const admin = user('u-admin', [['admin', null]])
const orgAdminA = user('u-oa', [['org-admin', ORG_A]])
const clinicianA = user('u-clin', [['clinician', ORG_A]])
const grantee = (roles: string[]): GranteeFacts => ({ exists: true, roles })
const grant = (p: Principal, g: AccessGrant, org: string | null, facts: GranteeFacts | undefined) =>
  evaluate(
    p,
    'access.grant',
    { type: 'role-grant', id: g.userId, organisationId: org, grant: g },
    undefined,
    NOW,
    RULES,
    facts,
  )
const role = (userId: string, r: string): AccessGrant => ({ userId, kind: 'role', role: r })
const facts = (f: Partial<PatientFacts> = {}): PatientFacts => ({
  exists: true,
  erased: false,
  organisationId: ORG_A,
  careTeam: false,
  consents: [],
  breakGlass: null,
  ...f,
})
const breakGlass = (p: Principal, f: PatientFacts) =>
  evaluate(p, 'break-glass.open', { type: 'break-glass', patientId: PATIENT }, f, NOW)

describe('segregation of duties and break-glass scope (policy rules)', () => {
  test('[SRS-AUTHZ-105] nobody grants themselves a role or a care-team place: refused with SEGREGATION_OF_DUTIES and a security event', () => {
    for (const [p, org] of [
      [admin, ORG_A],
      [orgAdminA, ORG_A],
    ] as const) {
      for (const g of [
        role(p.id, 'clinician'),
        role(p.id, 'patient'),
        role(p.id, 'org-admin'),
        { userId: p.id, kind: 'care-team' } as const,
      ]) {
        const d = grant(p, g, org, grantee(p.roles as string[]))
        assert.deepEqual(
          [d.effect, d.rule, d.problem, d.securityEvent, d.conceal],
          ['deny', 'sod.self-grant', 'SEGREGATION_OF_DUTIES', 'segregation-of-duties.refused', undefined],
          `${p.id} ${JSON.stringify(g)}`,
        )
      }
    }
  })

  test("[SRS-AUTHZ-105] an administrator's account never receives health-data access, nor a health-data account administration — whoever grants", () => {
    for (const held of [['org-admin'], ['admin'], ['org-admin', 'patient']]) {
      for (const g of [
        role('u-x', 'clinician'),
        role('u-x', 'caregiver'),
        { userId: 'u-x', kind: 'care-team' } as const,
      ]) {
        assert.equal(
          grant(admin, g, ORG_A, grantee(held)).rule,
          'sod.health-data-to-administrator',
          `${held} ← ${JSON.stringify(g)}`,
        )
        assert.equal(grant(orgAdminA, g, ORG_A, grantee(held)).rule, 'sod.health-data-to-administrator')
      }
      assert.equal(
        grant(admin, role('u-x', 'patient'), ORG_A, grantee(held)).effect,
        'permit',
        'an administrator may be a patient',
      )
    }
    for (const held of [['clinician'], ['caregiver']]) {
      assert.equal(
        grant(orgAdminA, role('u-x', 'org-admin'), ORG_A, grantee(held)).rule,
        'sod.administration-to-health-data-account',
      )
      assert.equal(
        grant(orgAdminA, role('u-x', 'clinician'), ORG_A, grantee(held)).effect,
        'permit',
        'a second health-data role is no escalation',
      )
    }
  })

  test("[SRS-AUTHZ-105] ordinary grants are decided as before: the organisation's administrators, another organisation concealed, others refused; a grant needs its grantee", () => {
    const plain = grantee(['patient'])
    assert.deepEqual(
      [
        grant(orgAdminA, role('u-x', 'clinician'), ORG_A, plain).effect,
        grant(admin, role('u-x', 'clinician'), ORG_B, plain).effect,
      ],
      ['permit', 'permit'],
    )
    const other = grant(orgAdminA, role('u-x', 'clinician'), ORG_B, plain)
    assert.deepEqual(
      [other.effect, other.conceal, other.problem],
      ['deny', true, undefined],
      'another organisation: concealed, no SoD refusal',
    )
    // A caller who could not grant at all is refused as before, even for itself: no SoD event.
    const selfByClinician = grant(clinicianA, role(clinicianA.id, 'org-admin'), ORG_A, grantee(['clinician']))
    assert.deepEqual([selfByClinician.rule, selfByClinician.securityEvent], ['default-deny', undefined])
    assert.equal(
      grant(admin, role('u-x', 'clinician'), ORG_A, { exists: false, roles: [] }).conceal,
      true,
      'unknown account',
    )
    assert.equal(
      grant(admin, role('u-x', 'clinician'), ORG_A, undefined).effect,
      'deny',
      'no grantee facts: fail closed',
    )
    assert.equal(
      evaluate(admin, 'access.grant', { type: 'x', organisationId: ORG_A }, undefined, NOW).rule,
      'grant-unspecified',
    )
  })

  test('[SRS-AUTHZ-105] break-glass opens only on a patient of an organisation where the caller is a clinician; any other is concealed like an unknown one', () => {
    assert.equal(breakGlass(clinicianA, facts()).effect, 'permit')
    const foreign = breakGlass(clinicianA, facts({ organisationId: ORG_B }))
    const unassigned = breakGlass(clinicianA, facts({ organisationId: null }))
    const unknown = breakGlass(clinicianA, facts({ exists: false, organisationId: null }))
    for (const d of [foreign, unassigned, unknown]) assert.deepEqual([d.effect, d.conceal], ['deny', true])
    // A consent or a care team elsewhere is not an organisation.
    assert.equal(breakGlass(clinicianA, facts({ organisationId: ORG_B, careTeam: true })).effect, 'deny')
    // A clinician of B who also holds a role in A (patient) is still not a clinician of A.
    assert.equal(
      breakGlass(
        user('u-b', [
          ['clinician', ORG_B],
          ['patient', ORG_A],
        ]),
        facts(),
      ).effect,
      'deny',
    )
    // An account that also administers never opens break-glass (an older account holding both).
    const both = user('u-both', [
      ['clinician', ORG_A],
      ['org-admin', ORG_A],
    ])
    const d = breakGlass(both, facts())
    assert.deepEqual(
      [d.effect, d.rule, d.problem],
      ['deny', 'sod.break-glass-by-administrator', 'SEGREGATION_OF_DUTIES'],
    )
  })

  test("[SRS-AUTHZ-105] an account that also administers reaches no one else's health data, whatever permits it; its own record stays its own", () => {
    const both = {
      ...user('u-both', [
        ['clinician', ORG_A],
        ['org-admin', ORG_A],
        ['patient', ORG_A],
      ]),
      patientId: 'own-record',
    }
    const open = facts({
      careTeam: true,
      breakGlass: { id: 'bg', expiresAt: new Date(NOW.getTime() + 60_000) },
    })
    for (const action of ['patients.read', 'device-data.read', 'reports.write']) {
      const d = evaluate(both, action, { type: 'x', patientId: PATIENT }, open, NOW)
      assert.deepEqual(
        [d.effect, d.rule, d.problem, d.securityEvent],
        [
          'deny',
          'sod.administrator-reads-health-data',
          'SEGREGATION_OF_DUTIES',
          'segregation-of-duties.refused',
        ],
        action,
      )
    }
    assert.equal(
      evaluate(both, 'patients.read', { type: 'x', patientId: 'own-record' }, facts(), NOW).rule,
      'patient.own-record',
    )
    assert.equal(
      evaluate(
        user('u-admin-clin', [
          ['admin', null],
          ['clinician', ORG_A],
        ]),
        'patients.read',
        { type: 'x', patientId: PATIENT },
        open,
        NOW,
      ).rule,
      'sod.administrator-reads-health-data',
    )
    assert.equal(
      evaluate(clinicianA, 'patients.read', { type: 'x', patientId: PATIENT }, open, NOW).effect,
      'permit',
      "a clinician's account is unaffected",
    )
  })

  test('[SRS-AUTHZ-105] every forbid rule names known actions and a unique id', () => {
    assert.equal(new Set(FORBIDS.map((f) => f.id)).size, FORBIDS.length)
    for (const f of FORBIDS) for (const a of f.actions) assert.ok(a in ACTIONS, `${f.id}: ${a}`)
  })
})
