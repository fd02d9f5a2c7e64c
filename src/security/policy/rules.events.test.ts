// The rules the events issue added (ADR-0020), one by one: who manages an organisation's event
// subscriptions, and the consent a patient gives an organisation reaching its backend services.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Principal } from '../authn/index.ts'
import type { ConsentFact, PatientFacts } from './decision.ts'
import { evaluate } from './pdp.ts'

const NOW = new Date('2026-12-04T12:00:00Z')
const ORG_A = '00000000-0000-4000-8000-00000000000a'
const ORG_B = '00000000-0000-4000-8000-00000000000b'
const PATIENT = '00000000-0000-4000-8000-000000000001'
const service = (organisationId: string | null, scopes: string[]): Principal => ({
  kind: 'client',
  id: 'svc',
  clientId: 'svc',
  scopes,
  roles: [],
  memberships: [],
  patientId: null,
  organisationId,
})
const orgAdmin = (org: string): Principal => ({
  kind: 'user',
  id: 'u-oa',
  clientId: 'c',
  scopes: ['admin:users'],
  roles: ['org-admin'],
  memberships: [{ role: 'org-admin', organisationId: org }],
  patientId: null,
})
const facts = (consents: ConsentFact[] = []): PatientFacts => ({
  exists: true,
  erased: false,
  organisationId: ORG_A,
  careTeam: false,
  consents,
  breakGlass: null,
})
const orgConsent = (
  org: string,
  categories = ['device-data'],
  expiresAt = new Date('2027-01-01T00:00:00Z'),
): ConsentFact => ({
  id: 'k1',
  granteeKind: 'organisation',
  granteeId: org,
  categories,
  access: 'read',
  purpose: 'treatment',
  expiresAt,
})

test('[SRS-EVT-358] subscriptions.manage: an organisation administrator or backend service, for its own organisation only (another is concealed)', () => {
  assert.equal(
    evaluate(orgAdmin(ORG_A), 'subscriptions.manage', { type: 'subscription' }, undefined, NOW).effect,
    'permit',
  )
  assert.equal(
    evaluate(
      orgAdmin(ORG_A),
      'subscriptions.manage',
      { type: 'subscription', organisationId: ORG_A },
      undefined,
      NOW,
    ).rule,
    'org-admin.subscriptions',
  )
  assert.deepEqual(
    Object.values(
      evaluate(
        orgAdmin(ORG_A),
        'subscriptions.manage',
        { type: 'subscription', organisationId: ORG_B },
        undefined,
        NOW,
      ),
    ).slice(0, 1),
    ['deny'],
  )
  const svc = service(ORG_A, ['subscriptions:manage'])
  assert.equal(
    evaluate(svc, 'subscriptions.manage', { type: 'subscription', organisationId: ORG_A }, undefined, NOW)
      .rule,
    'service.subscriptions',
  )
  assert.equal(
    evaluate(svc, 'subscriptions.manage', { type: 'subscription', organisationId: ORG_B }, undefined, NOW)
      .effect,
    'deny',
  )
  assert.equal(
    evaluate(
      service(ORG_A, ['device-data:read']),
      'subscriptions.manage',
      { type: 'subscription', organisationId: ORG_A },
      undefined,
      NOW,
    ).rule,
    'scope-missing',
  )
  assert.equal(
    evaluate(
      service(null, ['subscriptions:manage']),
      'subscriptions.manage',
      { type: 'subscription' },
      undefined,
      NOW,
    ).effect,
    'deny',
  )
  const clinician: Principal = {
    kind: 'user',
    id: 'u-c',
    clientId: 'c',
    scopes: ['admin:users', 'subscriptions:manage'],
    roles: ['clinician'],
    memberships: [{ role: 'clinician', organisationId: ORG_A }],
    patientId: null,
  }
  assert.equal(
    evaluate(clinician, 'subscriptions.manage', { type: 'subscription' }, undefined, NOW).effect,
    'deny',
  )
})

test('[SRS-EVT-352] a consent a patient gives an organisation lets its backend services read that category, until revoked or expired', () => {
  const svcB = service(ORG_B, ['device-data:read', 'reports:read'])
  const onPatient = (p: Principal, action: string, f: PatientFacts) =>
    evaluate(p, action, { type: 'x', patientId: PATIENT }, f, NOW)
  const permitted = onPatient(svcB, 'device-data.read', facts([orgConsent(ORG_B)]))
  assert.equal(permitted.rule, 'service.organisation-consent')
  assert.equal(permitted.consentId, 'k1')
  assert.equal(
    onPatient(svcB, 'device-data.read', facts()).effect,
    'deny',
    'no consent (revoked ones are not facts)',
  )
  assert.equal(onPatient(svcB, 'reports.read', facts([orgConsent(ORG_B)])).effect, 'deny', 'another category')
  assert.equal(
    onPatient(svcB, 'device-data.read', facts([orgConsent(ORG_A)])).effect,
    'deny',
    'a consent to another organisation',
  )
  assert.equal(
    onPatient(
      svcB,
      'device-data.read',
      facts([orgConsent(ORG_B, ['device-data'], new Date('2026-12-01T00:00:00Z'))]),
    ).effect,
    'deny',
    'expired',
  )
  assert.equal(
    onPatient(svcB, 'device-data.write', facts([orgConsent(ORG_B)])).effect,
    'deny',
    'reading only',
  )
})
