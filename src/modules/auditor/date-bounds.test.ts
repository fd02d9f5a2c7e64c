// FHIR date search on AuditEvent: prefixes on a day (a range) and on an instant.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { dateBounds } from './audit-event.fhir-routes.ts'

const iso = (b: { at: Date; inclusive: boolean }) => `${b.inclusive ? '[' : '('}${b.at.toISOString()}`

test('[SRS-AUDIT-008] AuditEvent date: a day is [00:00Z, next 00:00Z); ge, gt, le, lt and eq on days and instants', () => {
  assert.deepEqual(dateBounds(['2026-03-01']).after.map(iso), ['[2026-03-01T00:00:00.000Z'])
  assert.deepEqual(dateBounds(['2026-03-01']).before.map(iso), ['(2026-03-02T00:00:00.000Z'])
  assert.deepEqual(dateBounds(['gt2026-03-01']).after.map(iso), ['[2026-03-02T00:00:00.000Z'])
  assert.deepEqual(dateBounds(['le2026-03-01']).before.map(iso), ['(2026-03-02T00:00:00.000Z'])
  assert.deepEqual(dateBounds(['lt2026-03-01']).before.map(iso), ['(2026-03-01T00:00:00.000Z'])
  const range = dateBounds(['ge2026-03-01T10:00:00+02:00', 'lt2026-03-01T12:00:00Z'])
  assert.deepEqual(range.after.map(iso), ['[2026-03-01T08:00:00.000Z'])
  assert.deepEqual(range.before.map(iso), ['(2026-03-01T12:00:00.000Z'])
  assert.deepEqual(dateBounds(['gt2026-03-01T10:00:00Z']).after.map(iso), ['(2026-03-01T10:00:00.000Z'])
  assert.throws(
    () => dateBounds(['2026-03-01T10:00:00']),
    /offset/,
    'a date-time without an offset is ambiguous',
  )
})
