// The decision procedure (ADR-0008): default deny, scopes that narrow and never widen, SMART
// scopes, concealment (404) versus refusal (403), unknown and erased patients. Pure evaluate().
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Principal } from '../authn/index.ts'
import type { PatientFacts } from './decision.ts'
import { boundPatientFacts, createPdp, evaluate } from './pdp.ts'
import { scopePermits } from './scopes.ts'

const NOW = new Date('2026-11-22T12:00:00Z')
const ORG_A = '00000000-0000-4000-8000-00000000000a'
const PATIENT = '00000000-0000-4000-8000-000000000001'
const OTHER = '00000000-0000-4000-8000-000000000002'

const principal = (p: Partial<Principal>): Principal => ({
  kind: 'user',
  id: 'u',
  clientId: 'c',
  scopes: [],
  roles: [],
  memberships: [],
  patientId: null,
  ...p,
})
const clinician = (scopes: string[], extra: Partial<Principal> = {}) =>
  principal({
    id: 'u-clin',
    roles: ['clinician'],
    memberships: [{ role: 'clinician', organisationId: ORG_A }],
    scopes,
    ...extra,
  })
const inTeam: PatientFacts = {
  exists: true,
  erased: false,
  organisationId: ORG_A,
  careTeam: true,
  consents: [],
  breakGlass: null,
}
const decide = (
  p: Principal,
  action: string,
  patientId: string | undefined,
  facts: PatientFacts | undefined = inTeam,
) => evaluate(p, action, { type: 'x', ...(patientId ? { patientId } : {}) }, facts, NOW)

describe('policy decision point: evaluate()', () => {
  test('[SRS-AUTHZ-013] default deny: an unknown action, or no rule for this kind of principal, is refused (403, not concealed)', () => {
    assert.deepEqual(decide(clinician(['patients:read']), 'patients.delete', undefined), {
      effect: 'deny',
      rule: 'unknown-action',
    })
    const d = decide(principal({ roles: ['patient'], scopes: ['admin:users'] }), 'users.manage', undefined)
    assert.deepEqual([d.effect, d.rule, d.conceal], ['deny', 'default-deny', undefined])
  })

  test('[SRS-AUTHZ-013] scopes narrow, never widen: an admin without admin:users is refused; a scope never makes anyone an admin', () => {
    const admin = principal({ roles: ['admin'], memberships: [{ role: 'admin', organisationId: null }] })
    assert.equal(decide({ ...admin, scopes: ['admin:users'] }, 'users.manage', undefined).effect, 'permit')
    assert.equal(
      decide({ ...admin, scopes: ['account:read', 'admin:clients'] }, 'users.manage', undefined).rule,
      'scope-missing',
    )
    assert.equal(
      decide(clinician(['admin:users', 'admin:clients']), 'clients.manage', undefined).rule,
      'default-deny',
    )
    const noScope = decide(clinician(['device-data:read']), 'patients.read', PATIENT)
    assert.deepEqual(
      [noScope.effect, noScope.rule, noScope.conceal],
      ['deny', 'scope-missing', true],
      'a care-team clinician without patients:read',
    )
  })

  test('[SRS-AUTHZ-013] SMART patient/Observation.rs reaches only the launch patient and cannot write; user/ and system/ follow the principal kind', () => {
    const launched = clinician(['patient/Observation.rs'], { patientId: PATIENT })
    assert.equal(decide(launched, 'device-data.read', PATIENT).effect, 'permit')
    assert.equal(
      decide(launched, 'device-data.read', OTHER).rule,
      'scope-missing',
      'another patient, even one in the care team',
    )
    assert.equal(decide(launched, 'device-data.write', PATIENT).rule, 'scope-missing', '.rs does not write')
    assert.equal(decide(launched, 'patients.read', PATIENT).rule, 'scope-missing', 'another resource type')
    assert.equal(
      decide(clinician(['patient/Observation.rs']), 'device-data.read', PATIENT).rule,
      'scope-missing',
      'no launch context',
    )
    assert.equal(decide(clinician(['user/*.rs']), 'patients.read', PATIENT).effect, 'permit')
    assert.equal(decide(clinician(['user/*.cu']), 'device-data.write', PATIENT).effect, 'permit')
    assert.equal(
      decide(clinician(['system/*.rs']), 'patients.read', PATIENT).rule,
      'scope-missing',
      'system/ is for services',
    )
    assert.equal(
      scopePermits(
        { kind: 'client', scopes: ['system/Observation.read'], patientId: null },
        'device-data.read',
      ),
      true,
      'SMART v1 .read',
    )
    assert.equal(
      scopePermits(
        { kind: 'client', scopes: ['system/Observation.read'], patientId: null },
        'device-data.write',
      ),
      false,
    )
  })

  test('[SRS-AUTHZ-013] concealment: an unknown, erased or unrelated patient is a 404, the same for each', () => {
    const c = clinician(['patients:read'])
    for (const [facts, rule] of [
      [{ ...inTeam, exists: false }, 'patient-unknown'],
      [{ ...inTeam, erased: true }, 'patient-unknown'],
      [{ ...inTeam, careTeam: false }, 'no-relationship'],
      [undefined, 'patient-unknown'],
    ] as const) {
      const d = evaluate(c, 'patients.read', { type: 'x', patientId: PATIENT }, facts, NOW)
      assert.deepEqual([d.effect, d.rule, d.conceal, d.patientId], ['deny', rule, true, PATIENT])
    }
  })

  test('[SRS-AUTHZ-013] a permit names its rule and patient; break-glass expiry is exact to the instant (60 minutes after opening)', () => {
    const c = clinician(['patients:read'])
    assert.deepEqual(decide(c, 'patients.read', PATIENT), {
      effect: 'permit',
      rule: 'clinician.care-team',
      patientId: PATIENT,
    })
    const opened = new Date(NOW.getTime() - 59 * 60_000)
    const session = { id: 'bg', expiresAt: new Date(opened.getTime() + 60 * 60_000) }
    const facts = { ...inTeam, careTeam: false, breakGlass: session }
    assert.equal(decide(c, 'patients.read', PATIENT, facts).breakGlass, true, 'minute 59')
    const later = evaluate(
      c,
      'patients.read',
      { type: 'x', patientId: PATIENT },
      facts,
      new Date(opened.getTime() + 60 * 60_000),
    )
    assert.equal(later.effect, 'deny', 'minute 60')
  })

  test('[SRS-AUTHZ-013] route-level decisions need no facts; the object check is where patients are told apart', () => {
    const c = clinician(['patients:read'])
    assert.deepEqual(evaluate(c, 'patients.read', { type: 'x' }, undefined, NOW), {
      effect: 'permit',
      rule: 'clinician.care-team',
    })
  })
})

describe('a bound device\u2019s own writes (ADR-0033)', () => {
  const PATIENT = '00000000-0000-4000-8000-0000000000a1'
  const device = (erased: boolean, patientId: string | null = PATIENT): Principal => ({
    kind: 'device',
    id: 'dev-1',
    clientId: 'client-dev-1',
    scopes: ['device-data:write', 'device-data:read'],
    roles: [],
    patientId,
    organisationId: 'org-a',
    boundPatient: { organisationId: 'org-a', erased },
  })
  /** A facts source that counts its reads and answers with the given facts. */
  const counting = (facts: PatientFacts) => {
    const source = {
      reads: 0,
      async patientFacts() {
        source.reads++
        return facts
      },
      async candidatePatients() {
        return []
      },
    }
    return source
  }
  const LIVE: PatientFacts = {
    exists: true,
    erased: false,
    organisationId: 'org-a',
    careTeam: false,
    consents: [],
    breakGlass: null,
  }
  const now = { now: new Date(), requestId: 'req-1', ip: '127.0.0.1' }

  test('[SRS-PERF-593] a device writing for its bound patient is decided without reading the facts; erased, it is refused and concealed', async () => {
    const facts = counting(LIVE)
    const pdp = createPdp({ facts })
    const write = { type: 'device-data', patientId: PATIENT }
    assert.equal((await pdp.decide(device(false), 'device-data.write', write, now)).effect, 'permit')
    const erased = await pdp.decide(device(true), 'device-data.write', write, now)
    assert.deepEqual([erased.effect, erased.rule, erased.conceal], ['deny', 'patient-unknown', true])
    assert.equal(facts.reads, 0)
  })

  test('[SRS-PERF-593] any other action, another patient, or a principal without bound facts reads the facts as before', async () => {
    const facts = counting({ ...LIVE, erased: true })
    const pdp = createPdp({ facts })
    const other = '00000000-0000-4000-8000-0000000000b2'
    assert.equal(boundPatientFacts(device(false), 'device-data.read', PATIENT), undefined)
    assert.equal(boundPatientFacts(device(false), 'device-data.write', other), undefined)
    assert.equal(boundPatientFacts(device(false, null), 'device-data.write', PATIENT), undefined)
    const { boundPatient: _, ...withoutFacts } = device(false)
    assert.equal(boundPatientFacts(withoutFacts, 'device-data.write', PATIENT), undefined)
    const user: Principal = {
      ...withoutFacts,
      kind: 'user',
      roles: ['clinician'],
      boundPatient: { organisationId: 'org-a', erased: false },
    }
    assert.equal(boundPatientFacts(user, 'device-data.write', PATIENT), undefined)
    // Decided on the facts read (here: erased), not on the principal's.
    const d = await pdp.decide(
      withoutFacts,
      'device-data.write',
      { type: 'device-data', patientId: PATIENT },
      now,
    )
    assert.equal(d.rule, 'patient-unknown')
    await pdp.decide(device(false), 'device-data.write', { type: 'device-data', patientId: other }, now)
    assert.equal(facts.reads, 2)
  })
})
