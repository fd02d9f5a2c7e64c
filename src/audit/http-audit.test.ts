import assert from 'node:assert/strict'
import { test } from 'node:test'
import { patientsNamedIn } from './http-audit.ts'

const P1 = '0b3f5c1e-6a1d-4c9e-9b1a-2f4e6d8c0a11'
const P2 = '1c4a6d2f-7b2e-4dae-8c2b-3a5f7e9d1b22'
const P3 = '2d5b7e3a-8c3f-4ebf-9d3c-4b6a8f0e2c33'
const D1 = '3e6c8f4b-9d4a-4fc0-8e4d-5c7b9a1f3d44'

test('[SRS-AUDIT-400] patientsNamedIn finds every patient a body names, at any depth and in any case, and nothing else', () => {
  const body = {
    resourceType: 'Bundle',
    entry: [
      {
        resource: {
          resourceType: 'Observation',
          subject: { reference: `Patient/${P1.toUpperCase()}` },
          device: { reference: `Device/${D1}` },
        },
      },
      { resource: { resourceType: 'Patient', id: P2 } },
      [[{ deep: { deeper: { patientId: P3 } } }]],
      { resource: { resourceType: 'Observation', subject: { reference: `patient/${P1}` } } },
    ],
    // Not patient references: a device, a patient id without its prefix, a prefix with no id, a longer id.
    notes: [
      { reference: `Device/${D1}` },
      { reference: P2.replace('1c', 'ff') },
      { reference: 'Patient/' },
      { reference: `Patient/${P2}x` },
      { resourceType: 'Device', id: D1 },
      { patientId: `${P3}0` },
      { patientId: 42 },
    ],
  }
  assert.deepEqual([...patientsNamedIn(body)].sort(), [P1, P2, P3].sort())
  // An inherited enumerable property is not part of the body (JSON.stringify leaves it out too).
  const inherited = Object.create({ subject: { reference: `Patient/${P2}` } }) as object
  assert.deepEqual([...patientsNamedIn({ x: inherited })], [])
})
