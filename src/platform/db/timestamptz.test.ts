import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { parseTimestamptz } from './postgres.ts'

// A zone of odd offset, so a parse in local time instead of UTC shows (this file runs in its own process).
// eslint-disable-next-line no-restricted-properties -- the test sets the process's zone, it reads no configuration
process.env.TZ = 'America/St_Johns'

const pgParser = pg.types.getTypeParser(1184, 'text')

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** A PostgreSQL-style timestamptz text: random instant, fraction of 0–6 digits, offset and era of many kinds. */
function randomTimestamptz(random: () => number): string {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
  const year = random() < 0.1 ? int(1, 999) : random() < 0.05 ? int(10000, 20000) : int(1000, 9999)
  const date = `${pad(year, 4)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`
  const time = `${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}`
  const digits = int(0, 6)
  const fraction = digits === 0 ? '' : `.${pad(int(0, 10 ** digits - 1), digits)}`
  const offsets = ['+00', '+00', '+00', '+05:30', '-08', '+01', '+00:00:12']
  const era = random() < 0.05 ? ' BC' : ''
  return `${date} ${time}${fraction}${offsets[int(0, offsets.length - 1)]}${era}`
}

function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const same = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date ? Object.is(a.getTime(), b.getTime()) : Object.is(a, b)

test('[SRS-PERF-599] a timestamptz is read as the same value as pg’s own parser reads it, for every form PostgreSQL writes', () => {
  const fixed = [
    '2026-12-06 05:41:20+00',
    '2026-12-06 05:41:20.1+00',
    '2026-12-06 05:41:20.123456+00',
    '2026-12-06 05:41:20.999999+00',
    '2024-02-29 23:59:59.9995+00',
    '0099-01-01 00:00:00+00',
    '0001-01-01 00:00:00+00 BC',
    '1970-01-01 00:00:00+00',
    '2026-12-06 06:41:20+01',
    '2026-12-06 05:41:20.5-03:30',
    'infinity',
    '-infinity',
  ]
  const random = seeded(17)
  const inputs = [...fixed, ...Array.from({ length: 5000 }, () => randomTimestamptz(random))]
  for (const input of inputs) {
    const fast = parseTimestamptz(input)
    const reference = pgParser(input)
    assert.ok(same(fast, reference), `${input}: ${String(fast)} ≠ ${String(reference)}`)
  }
  // The fast form is taken for the common case, not only the fallback.
  const parsed = parseTimestamptz('2026-12-06 05:41:20.123456+00') as Date
  assert.equal(parsed.toISOString(), '2026-12-06T05:41:20.123Z')
})
