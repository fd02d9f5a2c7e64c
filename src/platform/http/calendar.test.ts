import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isValidDate, isValidDateTime, parseDateTime, utcInstant } from './calendar.ts'

test('[SRS-HTTP-202] calendar: real days, no leap second, years 0001-9999, the offset applied', () => {
  for (const ok of ['2024-02-29', '2000-02-29', '0001-01-01', '9999-12-31']) assert.ok(isValidDate(ok), ok)
  for (const bad of [
    '2021-02-29',
    '1900-02-29',
    '2021-02-30',
    '2020-13-45',
    '2021-04-31',
    '0000-01-01',
    '10000-01-01',
    '2021-2-3',
    '2021-00-10',
  ])
    assert.ok(!isValidDate(bad), bad)
  for (const ok of [
    '2024-02-29T23:59:59Z',
    '2024-01-01T00:00:00.123456+14:00',
    '9999-12-31T23:59:59.999Z',
    '0001-01-01T00:00:00Z',
  ])
    assert.ok(isValidDateTime(ok), ok)
  for (const bad of [
    '9999-12-31T23:59:60Z',
    '2016-12-31T23:59:60Z',
    '0000-01-01T00:00:00Z',
    '2021-02-30T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:00:00',
    '2024-01-01T00:00:00+24:00',
    '0001-01-01T00:30:00+01:00',
    '9999-12-31T23:00:00-02:00',
  ])
    assert.ok(!isValidDateTime(bad), bad)
  assert.equal(parseDateTime('2024-03-01T01:00:00+02:00')?.toISOString(), '2024-02-29T23:00:00.000Z')
  // Years below 100 are those years (Date.UTC would make 0099 into 1999).
  assert.equal(utcInstant(99, 1, 1).toISOString(), '0099-01-01T00:00:00.000Z')
})
