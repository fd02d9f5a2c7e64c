// SMART App Launch 2.0 permissions per FHIR interaction (ADR-0032): each interaction needs its own
// letter — read r, search s, create c, update u, delete d — and no scope carries an interaction
// because it carries another one of the same action.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Principal } from '../authn/index.ts'
import {
  fhirInteraction,
  granularConstraints,
  requiredScopes,
  scopePermits,
  scopesForOperation,
  type Interaction,
} from './scopes.ts'

const PATIENT = '00000000-0000-4000-8000-000000000001'
const withScopes = (scopes: string[], kind: Principal['kind'] = 'user') => ({
  scopes,
  kind,
  patientId: undefined,
  launchPatientId: PATIENT,
})
const LETTERS: readonly Interaction[] = ['c', 'r', 'u', 'd', 's']

describe('SMART scopes per FHIR interaction', () => {
  test('[SRS-AUTHZ-621] every permission letter carries its own interaction and no other: Subscription, Patient, Observation', () => {
    const cases: Array<[string, string, readonly Interaction[]]> = [
      ['fhir-subscriptions.manage', 'Subscription', ['c', 'r', 'd']],
      ['patients.write', 'Patient', ['c', 'u']],
      ['device-data.read', 'Observation', ['r', 's']],
      ['patients.read', 'Patient', ['r', 's']],
    ]
    for (const [action, type, interactions] of cases)
      for (const letter of LETTERS)
        for (const interaction of interactions)
          assert.equal(
            scopePermits(withScopes([`patient/${type}.${letter}`]), action, PATIENT, interaction),
            letter === interaction,
            `patient/${type}.${letter} for ${action} ${interaction}`,
          )
    // The bug this closes: a read-only scope created and deleted Subscriptions; update allowed create.
    const readOnly = withScopes(['patient/Subscription.rs'])
    assert.equal(scopePermits(readOnly, 'fhir-subscriptions.manage', PATIENT, 'c'), false)
    assert.equal(scopePermits(readOnly, 'fhir-subscriptions.manage', PATIENT, 'd'), false)
    assert.equal(scopePermits(readOnly, 'fhir-subscriptions.manage', PATIENT, 'r'), true)
    assert.equal(scopePermits(withScopes(['user/Patient.u']), 'patients.write', undefined, 'c'), false)
  })

  test('[SRS-AUTHZ-621] combined and v1 scopes keep working: .rs reads and searches, .cruds and .* do all, v1 .read is r+s', () => {
    for (const scope of [
      'patient/Observation.rs',
      'patient/Observation.read',
      'patient/Observation.cruds',
      'patient/*.rs',
      'patient/Observation.*',
    ])
      for (const interaction of ['r', 's'] as const)
        assert.equal(
          scopePermits(withScopes([scope]), 'device-data.read', PATIENT, interaction),
          true,
          `${scope} ${interaction}`,
        )
    assert.equal(
      scopePermits(withScopes(['user/Subscription.crd']), 'fhir-subscriptions.manage', undefined, 'd'),
      true,
    )
    assert.equal(
      scopePermits(withScopes(['user/Subscription.write']), 'fhir-subscriptions.manage', undefined, 'd'),
      true,
    )
    assert.equal(
      scopePermits(withScopes(['user/Subscription.write']), 'fhir-subscriptions.manage', undefined, 'r'),
      false,
    )
  })

  test('[SRS-AUTHZ-622] with no interaction known (the Vigil API), a SMART scope carries an action only with every permission the action covers; Vigil API scopes are unaffected', () => {
    assert.equal(scopePermits(withScopes(['patient/Observation.s']), 'device-data.read', PATIENT), false)
    assert.equal(scopePermits(withScopes(['patient/Observation.r']), 'device-data.read', PATIENT), false)
    assert.equal(scopePermits(withScopes(['patient/Observation.rs']), 'device-data.read', PATIENT), true)
    assert.equal(
      scopePermits(withScopes(['patient/Subscription.rs']), 'fhir-subscriptions.manage', PATIENT),
      false,
    )
    assert.equal(scopePermits(withScopes(['device-data:read']), 'device-data.read', PATIENT), true)
    assert.equal(scopePermits(withScopes(['device-data:read']), 'device-data.read', PATIENT, 's'), true)
  })

  test('[SRS-AUTHZ-621] the interaction follows from the route: GET on a type searches, on an instance or its operation reads; POST creates, PUT and PATCH update, DELETE deletes; nothing off /fhir/R4', () => {
    assert.equal(fhirInteraction('GET', '/fhir/R4/Observation'), 's')
    assert.equal(fhirInteraction('GET', '/fhir/R4/Observation/:id'), 'r')
    assert.equal(fhirInteraction('GET', '/fhir/R4/Subscription/{id}/$status'), 'r')
    assert.equal(fhirInteraction('POST', '/fhir/R4/Subscription'), 'c')
    assert.equal(fhirInteraction('PUT', '/fhir/R4/Patient/:id'), 'u')
    assert.equal(fhirInteraction('PATCH', '/fhir/R4/Patient/:id'), 'u')
    assert.equal(fhirInteraction('DELETE', '/fhir/R4/Subscription/:id'), 'd')
    assert.equal(fhirInteraction('DELETE', '/fhir/R4/Subscription'), undefined)
    assert.equal(fhirInteraction('GET', '/api/v2/device-data'), undefined)
    assert.equal(fhirInteraction('GET', '/fhir/R4/metadata'), 's', 'public anyway: no policy, no scope check')
  })

  test('[SRS-AUTHZ-623] a refusal names the scope of the refused interaction, and the OpenAPI document names each operation\u2019s own permission', () => {
    const p = { kind: 'user' as const, launchPatientId: PATIENT, roles: [] }
    assert.deepEqual(requiredScopes(p, 'fhir-subscriptions.manage', true, 'c'), ['patient/Subscription.c'])
    assert.deepEqual(requiredScopes(p, 'fhir-subscriptions.manage', true, 'd'), ['patient/Subscription.d'])
    assert.deepEqual(requiredScopes(p, 'device-data.read', true), ['patient/Observation.rs'])
    assert.deepEqual(scopesForOperation('device-data.read', true, 's'), [
      'patient/Observation.s',
      'user/Observation.s',
      'system/Observation.s',
    ])
  })

  test('[SRS-AUTHZ-621] granular scopes count for their own interaction only', () => {
    const granular = withScopes(['patient/Observation.s?category=vital-signs'])
    assert.deepEqual(granularConstraints(granular, 'device-data.read', 's'), [[['category', 'vital-signs']]])
    assert.equal(granularConstraints(granular, 'device-data.read', 'r'), undefined)
    assert.equal(scopePermits(granular, 'device-data.read', PATIENT, 'r'), false)
  })
})
