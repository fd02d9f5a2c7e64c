// Reading validation (ADR-0010): the semantic checks a JSON schema cannot make, one reading at a
// time — the device's time, the code, the unit and its conversion, the plausible range, the
// blood-pressure panel. Every problem is reported under its JSON Pointer and none echoes a value.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { ProblemFieldError } from '../../platform/http/errors.ts'
import { KNOWN_CODES, measurementRule, panelRule } from './loinc-catalogue.ts'
import {
  formatDeviceTime,
  MAX_AGE_MS,
  MAX_FUTURE_MS,
  parseDeviceTime,
  validateReading,
  type ReadingInput,
} from './validate-reading.ts'

const NOW = new Date('2026-11-22T12:00:00.000Z')
const AT = '/body/readings/3'
const WHEN = '2026-11-22T08:30:00.000+01:00'

function check(input: ReadingInput, now: Date = NOW) {
  const errors: ProblemFieldError[] = []
  const reading = validateReading(input, AT, now, errors)
  return { reading, errors, pointers: errors.map((e) => e.pointer) }
}

const glucose = (value: number, unit = 'mg/dL'): ReadingInput => ({
  code: '2339-0',
  value,
  unit,
  effectiveDateTime: WHEN,
})
const bp = (
  components: { code: string; value: number; unit: string }[],
  extra: Partial<ReadingInput> = {},
): ReadingInput => ({ code: '85354-9', components, effectiveDateTime: WHEN, ...extra })
const SYS = (value: number) => ({ code: '8480-6', value, unit: 'mm[Hg]' })
const DIA = (value: number) => ({ code: '8462-4', value, unit: 'mm[Hg]' })

test('[SRS-DATA-450] device time: RFC 3339 with Z or an offset is read as an instant and the offset kept', () => {
  assert.deepEqual(parseDeviceTime('2026-11-22T08:30:00Z'), {
    at: new Date('2026-11-22T08:30:00.000Z'),
    offsetMinutes: 0,
  })
  assert.deepEqual(parseDeviceTime('2026-11-22T08:30:00.5+01:00'), {
    at: new Date('2026-11-22T07:30:00.500Z'),
    offsetMinutes: 60,
  })
  assert.deepEqual(parseDeviceTime('2026-11-22T08:30:00.123-09:30'), {
    at: new Date('2026-11-22T18:00:00.123Z'),
    offsetMinutes: -570,
  })
  assert.deepEqual(parseDeviceTime('2024-02-29T23:59:59.999+18:00'), {
    at: new Date('2024-02-29T05:59:59.999Z'),
    offsetMinutes: 1080,
  })
  assert.equal(formatDeviceTime(new Date('2026-11-22T07:30:00.500Z'), 60), '2026-11-22T08:30:00.500+01:00')
  assert.equal(formatDeviceTime(new Date('2026-11-22T07:30:00.500Z'), 0), '2026-11-22T07:30:00.500Z')
  assert.equal(formatDeviceTime(new Date('2026-11-22T18:00:00.123Z'), -570), '2026-11-22T08:30:00.123-09:30')
})

test('[SRS-DATA-450] device time: no offset, a bad offset, an impossible calendar date or clock time, or more than millisecond precision is refused', () => {
  for (const bad of [
    '2026-11-22T08:30:00', // no offset: the instant is unknown
    '2026-11-22T08:30:00.000',
    '2026-11-22 08:30:00Z',
    '2026-11-22t08:30:00Z',
    '2026-11-22T08:30:00z',
    '2026-11-22T08:30Z', // seconds are required
    '2026-11-22T08:30:00.1234Z', // beyond the deduplication key's millisecond
    '2026-11-22T08:30:00+0100',
    '2026-11-22T08:30:00+18:01',
    '2026-11-22T08:30:00-19:00',
    '2026-11-22T08:30:00+01:60',
    '2026-02-29T08:30:00Z', // 2026 is not a leap year
    '2026-02-30T08:30:00Z',
    '2026-04-31T08:30:00Z',
    '2026-13-01T08:30:00Z',
    '2026-00-10T08:30:00Z',
    '2026-11-00T08:30:00Z',
    '2026-11-22T24:00:00Z',
    '2026-11-22T08:60:00Z',
    '2026-11-22T08:30:60Z', // leap seconds are not accepted
    '',
    'yesterday',
  ]) {
    assert.equal(parseDeviceTime(bad), undefined, bad)
  }
})

// Instants from 1900 to 2100 in any offset a device may report (±18 h, RFC 3339 allows it).
const instant = fc.date({
  min: new Date('1900-01-02T00:00:00Z'),
  max: new Date('2100-12-30T00:00:00Z'),
  noInvalidDate: true,
})
const offset = fc.integer({ min: -18 * 60, max: 18 * 60 })

test('[SRS-DATA-450] device time: property — any instant written in any offset reads back as the same instant and offset', () => {
  fc.assert(
    fc.property(instant, offset, (at, offsetMinutes) => {
      const text = formatDeviceTime(at, offsetMinutes)
      assert.match(text, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/)
      assert.deepEqual(parseDeviceTime(text), { at, offsetMinutes })
    }),
  )
})

test('[SRS-DATA-450] a valid reading keeps its client id, sequence and note, and its category comes from the code', () => {
  const { reading, errors } = check({
    clientId: 'r-1',
    code: '8867-4',
    value: 72,
    unit: '{beats}/min',
    effectiveDateTime: WHEN,
    sequence: 7,
    note: 'after a walk',
  })
  assert.deepEqual(errors, [])
  assert.deepEqual(reading, {
    clientId: 'r-1',
    code: '8867-4',
    category: 'vital-signs',
    content: { value: 72, unit: '/min', note: 'after a walk' },
    effectiveAt: new Date('2026-11-22T07:30:00.000Z'),
    offsetMinutes: 60,
    sequence: 7,
  })
  const plain = check(glucose(104)).reading
  assert.equal(plain?.clientId, null)
  assert.equal(plain?.sequence, null)
  assert.equal(plain?.category, 'laboratory')
  assert.deepEqual(plain?.content, { value: 104, unit: 'mg/dL' })
})

test('[SRS-DATA-450] [SRS-DATA-004] units are converted to the code\u2019s stored unit at its precision; a unit the code does not take is refused', () => {
  assert.deepEqual(check(glucose(5.5, 'mmol/L')).reading?.content, { value: 99.1, unit: 'mg/dL' })
  assert.deepEqual(
    check({ code: '15074-8', value: 99.1, unit: 'mg/dL', effectiveDateTime: WHEN }).reading?.content,
    { value: 5.5, unit: 'mmol/L' },
  )
  assert.deepEqual(
    check({ code: '29463-7', value: 150, unit: '[lb_av]', effectiveDateTime: WHEN }).reading?.content,
    { value: 68.04, unit: 'kg' },
  )
  assert.deepEqual(
    check({ code: '29463-7', value: 72500, unit: 'g', effectiveDateTime: WHEN }).reading?.content,
    { value: 72.5, unit: 'kg' },
  )
  assert.deepEqual(
    check({ code: '8310-5', value: 98.6, unit: '[degF]', effectiveDateTime: WHEN }).reading?.content,
    { value: 37, unit: 'Cel' },
  )

  const wrong = check(glucose(104, 'mg/L'))
  assert.equal(wrong.reading, undefined)
  assert.deepEqual(wrong.pointers, [`${AT}/unit`])
  assert.match(wrong.errors[0]?.detail ?? '', /expected one of mg\/dL, mmol\/L \(UCUM\)/)
})

test('[SRS-DATA-450] [SRS-DATA-004] an unknown code, a missing value or unit, and an implausible value are each refused at their place', () => {
  assert.deepEqual(check({ code: '1234-5', value: 1, unit: 'mg/dL', effectiveDateTime: WHEN }).pointers, [
    `${AT}/code`,
  ])
  assert.deepEqual(check({ code: '2339-0', unit: 'mg/dL', effectiveDateTime: WHEN }).pointers, [AT])
  assert.deepEqual(check({ code: '2339-0', value: 104, effectiveDateTime: WHEN }).pointers, [AT])
  assert.deepEqual(check(glucose(1001)).pointers, [`${AT}/value`])
  assert.deepEqual(check(glucose(9.99)).pointers, [`${AT}/value`])
  // The range is checked after conversion: 60 mmol/L is 1,081 mg/dL.
  assert.deepEqual(check(glucose(60, 'mmol/L')).pointers, [`${AT}/value`])
  assert.deepEqual(
    check({ code: '2339-0', value: 104, unit: 'mg/dL', components: [SYS(120)], effectiveDateTime: WHEN })
      .pointers,
    [`${AT}/components`],
  )
})

test('[SRS-DATA-450] property — every value inside a code\u2019s plausible range (bounds included) is kept as sent; every value outside is refused', () => {
  const codes = KNOWN_CODES.filter((c) => measurementRule(c) !== undefined)
  fc.assert(
    fc.property(fc.constantFrom(...codes), fc.double({ min: 0, max: 1, noNaN: true }), (code, t) => {
      const rule = measurementRule(code)
      assert.ok(rule)
      const inside = Math.min(rule.max, rule.min + t * (rule.max - rule.min))
      const ok = check({ code, value: inside, unit: rule.unit, effectiveDateTime: WHEN })
      assert.deepEqual(ok.errors, [], `${code} ${inside}`)
      assert.equal(ok.reading?.content.value, inside)
      assert.equal(ok.reading?.content.unit, rule.unit)
    }),
  )
  fc.assert(
    fc.property(
      fc.constantFrom(...codes),
      fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      fc.boolean(),
      (code, delta, above) => {
        const rule = measurementRule(code)
        assert.ok(rule)
        const outside = above ? rule.max + delta : rule.min - delta
        assert.deepEqual(
          check({ code, value: outside, unit: rule.unit, effectiveDateTime: WHEN }).pointers,
          [`${AT}/value`],
          `${code} ${outside}`,
        )
      },
    ),
  )
})

test('[SRS-DATA-450] [SRS-DATA-004] time: up to 5 minutes ahead of the server is accepted, further ahead or more than 10 years back is refused', () => {
  const at = (ms: number) => formatDeviceTime(new Date(ms), 60)
  assert.deepEqual(
    check({ ...glucose(104), effectiveDateTime: at(NOW.getTime() + MAX_FUTURE_MS) }).errors,
    [],
  )
  assert.deepEqual(
    check({ ...glucose(104), effectiveDateTime: at(NOW.getTime() + MAX_FUTURE_MS + 1) }).pointers,
    [`${AT}/effectiveDateTime`],
  )
  assert.deepEqual(check({ ...glucose(104), effectiveDateTime: at(NOW.getTime() - MAX_AGE_MS) }).errors, [])
  assert.deepEqual(
    check({ ...glucose(104), effectiveDateTime: at(NOW.getTime() - MAX_AGE_MS - 1) }).pointers,
    [`${AT}/effectiveDateTime`],
  )
  assert.deepEqual(
    check({ ...glucose(104), effectiveDateTime: '1970-01-01T00:00:00Z' }).pointers,
    [`${AT}/effectiveDateTime`],
    'a reset clock',
  )
  assert.deepEqual(
    check({ ...glucose(104), effectiveDateTime: '2026-11-22T08:30:00' }).pointers,
    [`${AT}/effectiveDateTime`],
    'no offset',
  )
  assert.equal(MAX_FUTURE_MS, 5 * 60_000)
})

test('[SRS-DATA-450] [SRS-DATA-004] a blood-pressure panel needs both components once each, systolic above diastolic, and no value or unit of its own', () => {
  const good = check(bp([DIA(80), SYS(120)]))
  assert.deepEqual(good.errors, [])
  assert.deepEqual(
    good.reading?.content,
    { components: [SYS(120), DIA(80)] },
    'components in the panel\u2019s order',
  )
  assert.equal(good.reading?.category, panelRule('85354-9')?.category)

  assert.deepEqual(check(bp([SYS(120)])).pointers, [`${AT}/components`])
  assert.deepEqual(check(bp([])).pointers, [`${AT}/components`, `${AT}/components`])
  assert.deepEqual(check(bp([SYS(120), DIA(80), SYS(121)])).pointers, [`${AT}/components/2/code`])
  assert.deepEqual(check(bp([SYS(120), DIA(80), { code: '8867-4', value: 70, unit: '/min' }])).pointers, [
    `${AT}/components/2/code`,
  ])
  assert.deepEqual(check(bp([SYS(80), DIA(80)])).pointers, [`${AT}/components`])
  assert.deepEqual(check(bp([SYS(120), DIA(250)])).pointers, [`${AT}/components/1/value`])
  assert.deepEqual(check(bp([SYS(120), { code: '8462-4', value: 80, unit: 'kPa' }])).pointers, [
    `${AT}/components/1/unit`,
  ])
  assert.deepEqual(check(bp([SYS(120), DIA(80)], { value: 120, unit: 'mm[Hg]' })).pointers, [AT])
})

test('[SRS-DATA-450] every problem of one reading is reported together, after those already collected, and none echoes a submitted value', () => {
  const errors: ProblemFieldError[] = [
    { pointer: '/body/readings/0/code', detail: 'from an earlier reading' },
  ]
  const input: ReadingInput = {
    code: '85354-9',
    value: 987654.321,
    components: [SYS(123456.789), { code: '8462-4', value: 80, unit: 'Pa-secret-unit' }],
    effectiveDateTime: '2031-07-04T11:22:33.444+05:45',
  }
  assert.equal(validateReading(input, AT, NOW, errors), undefined)
  assert.equal(errors[0]?.detail, 'from an earlier reading')
  assert.deepEqual(
    errors.slice(1).map((e) => e.pointer),
    [`${AT}/effectiveDateTime`, AT, `${AT}/components/0/value`, `${AT}/components/1/unit`],
  )
  const text = JSON.stringify(errors)
  for (const value of ['987654', '123456', 'Pa-secret-unit', '2031-07-04', '11:22:33'])
    assert.ok(!text.includes(value), `a detail echoes ${value}: ${text}`)

  fc.assert(
    fc.property(
      fc.constantFrom(...KNOWN_CODES),
      fc.double({ min: 1e7, max: 1e9, noNaN: true }),
      fc.stringMatching(/^zq[A-Za-z]{8,16}$/),
      fc.boolean(),
      (code, value, junkUnit, badUnit) => {
        // Either a unit the code does not take, or the right unit with a value far out of range.
        const unit = badUnit ? junkUnit : (measurementRule(code)?.unit ?? 'mm[Hg]')
        const found: ProblemFieldError[] = []
        const input: ReadingInput = panelRule(code)
          ? { code, components: [{ ...SYS(value), unit }, DIA(80)], effectiveDateTime: WHEN }
          : { code, value, unit, effectiveDateTime: WHEN }
        assert.equal(validateReading(input, AT, NOW, found), undefined)
        assert.ok(found.length > 0)
        const all = JSON.stringify(found)
        assert.ok(
          !all.includes(junkUnit) && !all.includes(String(value)) && !all.includes(String(Math.trunc(value))),
          all,
        )
      },
    ),
  )
})
