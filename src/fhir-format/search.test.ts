// FHIR search values (R4 §3.1.1.4–5): the grammar the FHIR route adapters parse every search with.
// Prefixes on dates, tokens with and without a system, references in their three spellings,
// comma = OR and repetition = AND, the bounds of _count, and what happens to a modifier
// (`name:exact`) Vigil does not implement. Every refusal is a 400 FhirError naming the parameter
// and never the submitted value.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createAjv } from '../platform/http/validation.ts'
import { FhirError } from './outcome.ts'
import {
  countOf,
  dateMatches,
  dateSql,
  datesOf,
  DEFAULT_COUNT,
  FHIR_RESOURCES,
  idsOf,
  knownParams,
  MAX_COUNT,
  one,
  parseDate,
  referencesOf,
  resourceDef,
  RESULT_PARAMS,
  searchQuerySchema,
  tokensOf,
  withOffset,
  type DatePrefix,
} from './search.ts'

const NO_MATCH = '00000000-0000-0000-0000-000000000000'
const ID = '3f2b8c1e-5d4a-4b6f-9c0d-7e1a2b3c4d5e'
const PREFIXES: readonly DatePrefix[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge']

/** Asserts fn throws a FhirError 400 with the issue code, naming the parameter and not echoing `value`. */
function refused(fn: () => unknown, name: string, issue: 'invalid' | 'not-supported', value?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FhirError, `expected a FhirError, got ${String(err)}`)
    assert.equal(err.status, 400)
    assert.equal(err.issueCode, issue)
    assert.deepEqual(err.expressions, [name])
    assert.match(err.message, new RegExp(name))
    if (value !== undefined)
      assert.ok(!err.message.includes(value), `the message echoes the submitted value: ${err.message}`)
    return true
  })
}

const iso = (d: Date) => d.toISOString()

test('[SRS-FHIR-450] search: a parameter allowed once is absent, single, or refused when repeated', () => {
  assert.equal(one({}, 'name'), undefined)
  assert.equal(one({ name: [] }, 'name'), undefined)
  assert.equal(one({ name: ['smi'] }, 'name'), 'smi')
  refused(() => one({ name: ['smi', 'jon'] }, 'name'), 'name', 'invalid', 'smi')
})

test('[SRS-FHIR-450] [SRS-FHIR-005] search: _count defaults to 50 and takes only whole numbers from 1 to 200', () => {
  assert.equal(countOf({}), DEFAULT_COUNT)
  assert.equal(DEFAULT_COUNT, 50)
  assert.equal(MAX_COUNT, 200)
  for (const bad of ['0', '201', '1000', '99999', '-1', '1.5', '1e2', ' 5', '', 'ten', '0x10'])
    refused(() => countOf({ _count: [bad] }), '_count', 'invalid')
  refused(() => countOf({ _count: ['10', '20'] }), '_count', 'invalid')
  fc.assert(
    fc.property(fc.integer({ min: 1, max: MAX_COUNT }), fc.nat({ max: 2 }), (n, zeros) => {
      assert.equal(countOf({ _count: [`${'0'.repeat(zeros)}${n}`.slice(-4)] }), n)
    }),
  )
  fc.assert(
    fc.property(fc.integer({ min: MAX_COUNT + 1, max: 9999 }), (n) => {
      refused(() => countOf({ _count: [String(n)] }), '_count', 'invalid')
    }),
  )
})

test('[SRS-FHIR-450] search: a token is system|code, |code (no system) or code (any system); comma is OR, repetition AND', () => {
  assert.deepEqual(tokensOf({}, 'code'), [])
  assert.deepEqual(tokensOf({ code: ['http://loinc.org|2339-0'] }, 'code'), [
    [{ system: 'http://loinc.org', code: '2339-0' }],
  ])
  assert.deepEqual(tokensOf({ code: ['2339-0'] }, 'code'), [[{ code: '2339-0' }]])
  assert.deepEqual(tokensOf({ code: ['|2339-0'] }, 'code'), [[{ system: '', code: '2339-0' }]])
  assert.deepEqual(tokensOf({ code: ['http://loinc.org|2339-0,8867-4'] }, 'code'), [
    [{ system: 'http://loinc.org', code: '2339-0' }, { code: '8867-4' }],
  ])
  assert.deepEqual(tokensOf({ code: ['2339-0', 'http://loinc.org|8867-4'] }, 'code'), [
    [{ code: '2339-0' }],
    [{ system: 'http://loinc.org', code: '8867-4' }],
  ])
  refused(
    () => tokensOf({ identifier: ['urn:oid:1.2.3|'] }, 'identifier'),
    'identifier',
    'invalid',
    'urn:oid:1.2.3',
  )
  refused(() => tokensOf({ identifier: ['a|b,urn:x|'] }, 'identifier'), 'identifier', 'invalid')

  const part = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('|') && !s.includes(','))
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.option(part, { nil: undefined }), part), { minLength: 1, maxLength: 5 }),
      (tokens) => {
        const value = tokens
          .map(([system, code]) => (system === undefined ? code : `${system}|${code}`))
          .join(',')
        const parsed = tokensOf({ code: [value] }, 'code')
        assert.deepEqual(parsed, [
          tokens.map(([system, code]) => (system === undefined ? { code } : { system, code })),
        ])
      },
    ),
  )
})

test('[SRS-FHIR-450] search: a reference is <id>, Type/<id> or an absolute URL; another type is refused; an id that cannot exist matches nothing', () => {
  const upper = ID.toUpperCase()
  assert.deepEqual(referencesOf({ patient: [ID] }, 'patient', 'Patient'), [[ID]])
  assert.deepEqual(
    referencesOf({ patient: [`Patient/${upper}`] }, 'patient', 'Patient'),
    [[ID]],
    'ids are compared in lower case',
  )
  assert.deepEqual(
    referencesOf({ subject: [`https://vigil.example/fhir/R4/Patient/${ID}`] }, 'subject', 'Patient'),
    [[ID]],
  )
  assert.deepEqual(referencesOf({ patient: [`${ID},Patient/not-an-id`] }, 'patient', 'Patient'), [
    [ID, NO_MATCH],
  ])
  assert.deepEqual(referencesOf({ patient: [ID, `Patient/${ID}`] }, 'patient', 'Patient'), [[ID], [ID]])
  refused(() => referencesOf({ patient: [`Device/${ID}`] }, 'patient', 'Patient'), 'patient', 'invalid', ID)
  refused(
    () => referencesOf({ device: [`https://vigil.example/fhir/R4/Patient/${ID}`] }, 'device', 'Device'),
    'device',
    'invalid',
  )

  fc.assert(
    fc.property(
      fc.uuid(),
      fc.constantFrom('', 'Patient/', 'https://h.example/fhir/R4/Patient/'),
      fc.boolean(),
      (uuid, prefix, shout) => {
        const id = shout ? uuid.toUpperCase() : uuid
        assert.deepEqual(referencesOf({ patient: [`${prefix}${id}`] }, 'patient', 'Patient'), [
          [uuid.toLowerCase()],
        ])
      },
    ),
  )
  fc.assert(
    fc.property(
      fc
        .string({ maxLength: 60 })
        .filter((s) => !s.includes('/') && !s.includes(',') && !/^[0-9a-f-]{36}$/i.test(s)),
      (junk) => {
        assert.deepEqual(referencesOf({ patient: [junk] }, 'patient', 'Patient'), [[NO_MATCH]])
        assert.deepEqual(idsOf({ _id: [junk] }), [[NO_MATCH]])
      },
    ),
  )
})

test('[SRS-FHIR-450] search: _id takes comma-separated ids (OR), repeated _id is AND, ids compared in lower case', () => {
  assert.deepEqual(idsOf({}), [])
  assert.deepEqual(idsOf({ _id: [`${ID.toUpperCase()},nope`] }), [[ID, NO_MATCH]])
  assert.deepEqual(idsOf({ _id: [ID, ID] }), [[ID], [ID]])
})

test('[SRS-FHIR-450] search: a date value covers the range its precision implies (year, month, day, minute, second, millisecond)', () => {
  const range = (v: string) => {
    const r = parseDate('date', v)
    return [r.prefix, iso(r.start), iso(r.end)]
  }
  assert.deepEqual(range('2024'), ['eq', '2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'])
  assert.deepEqual(range('2024-02'), ['eq', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'])
  assert.deepEqual(range('2024-12'), ['eq', '2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'])
  assert.deepEqual(range('ge2024-02-29'), ['ge', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'])
  assert.deepEqual(range('lt2024-05-01T09:30Z'), [
    'lt',
    '2024-05-01T09:30:00.000Z',
    '2024-05-01T09:31:00.000Z',
  ])
  assert.deepEqual(range('gt2024-05-01T09:30:15+02:00'), [
    'gt',
    '2024-05-01T07:30:15.000Z',
    '2024-05-01T07:30:16.000Z',
  ])
  assert.deepEqual(range('le2024-05-01T09:30:15.25-05:30'), [
    'le',
    '2024-05-01T15:00:15.250Z',
    '2024-05-01T15:00:15.251Z',
  ])
  assert.deepEqual(range('ne2024-05-01T23:59:59.999Z'), [
    'ne',
    '2024-05-01T23:59:59.999Z',
    '2024-05-02T00:00:00.000Z',
  ])
})

test('[SRS-FHIR-450] search: date prefixes sa, eb and ap are refused as not supported; malformed values as invalid, never echoed', () => {
  for (const p of ['sa', 'eb', 'ap'])
    refused(() => parseDate('date', `${p}2024-05-01`), 'date', 'not-supported')
  for (const bad of [
    '',
    '24',
    '20245',
    '2024-5-1',
    '2024-05-1',
    'gt',
    'xx2024',
    'GE2024',
    '2024-05-01T09',
    '2024-05-01 09:30Z',
    '2024-05-01T09:30:15+0200',
    '2024-05-01T09:30:15.Z',
    '2024-05-01T25:00Z',
    '2024-05-01T09:61Z',
    'today',
  ]) {
    refused(() => parseDate('birthdate', bad), 'birthdate', 'invalid')
  }
  fc.assert(
    fc.property(fc.stringMatching(/^zq[a-z0-9:+.-]{6,24}$/), (junk) => {
      refused(() => parseDate('date', junk), 'date', 'invalid', junk)
    }),
  )
})

test('[SRS-FHIR-450] search: several date values in one parameter are refused; a repeated date parameter is a range (AND)', () => {
  refused(() => datesOf({ date: ['ge2024-01-01,le2024-12-31'] }, 'date'), 'date', 'not-supported')
  const both = datesOf({ date: ['ge2024-01-01', 'lt2024-02-01'] }, 'date')
  assert.deepEqual(
    both.map((r) => [r.prefix, iso(r.start)]),
    [
      ['ge', '2024-01-01T00:00:00.000Z'],
      ['lt', '2024-02-01T00:00:00.000Z'],
    ],
  )
  assert.deepEqual(datesOf({}, 'date'), [])
})

// Instants from 1900 to 2100 with any offset a device or client may send (±14 h).
const instant = fc.date({
  min: new Date('1900-01-02T00:00:00Z'),
  max: new Date('2100-12-30T00:00:00Z'),
  noInvalidDate: true,
})
const offset = fc.integer({ min: -14 * 60, max: 14 * 60 })

test('[SRS-FHIR-450] search: property — an instant written with any offset parses back to itself, at millisecond precision, under every prefix', () => {
  fc.assert(
    fc.property(instant, offset, fc.constantFrom(...PREFIXES), (at, off, prefix) => {
      const r = parseDate('date', `${prefix}${withOffset(at, off)}`)
      assert.equal(r.prefix, prefix)
      assert.equal(r.start.getTime(), at.getTime())
      assert.equal(r.end.getTime(), at.getTime() + 1)
    }),
  )
})

test('[SRS-FHIR-450] search: property — a day, month or year value is the half-open UTC range that contains every instant of it', () => {
  fc.assert(
    fc.property(instant, fc.constantFrom(4, 7, 10), (at, length) => {
      const r = parseDate('date', iso(at).slice(0, length))
      assert.ok(
        r.start.getTime() <= at.getTime() && at.getTime() < r.end.getTime(),
        `${iso(at)} in [${iso(r.start)}, ${iso(r.end)})`,
      )
      assert.equal(
        iso(r.start).slice(0, length),
        iso(at).slice(0, length),
        'the range starts inside the value',
      )
      assert.notEqual(iso(r.end).slice(0, length), iso(at).slice(0, length), 'and ends at the next one')
      assert.equal(iso(new Date(r.end.getTime() - 1)).slice(0, length), iso(at).slice(0, length))
    }),
  )
})

test('[SRS-FHIR-450] search: property — comparing a birth date to a day value follows the prefix (eq, ne, lt, le, gt, ge)', () => {
  const DAY = 86_400_000
  const day = fc.integer({ min: 0, max: 60_000 }) // days since 1900-01-01
  const base = Date.UTC(1900, 0, 1)
  fc.assert(
    fc.property(day, day, fc.constantFrom(...PREFIXES), (searched, born, prefix) => {
      const value = iso(new Date(base + searched * DAY)).slice(0, 10)
      const r = parseDate('birthdate', `${prefix}${value}`)
      const at = new Date(base + born * DAY)
      const expected = {
        eq: born === searched,
        ne: born !== searched,
        lt: born < searched,
        le: born <= searched,
        gt: born > searched,
        ge: born >= searched,
      }[prefix]
      assert.equal(
        dateMatches(r, at, new Date(at.getTime() + DAY)),
        expected,
        `${iso(at).slice(0, 10)} ${prefix} ${value}`,
      )
    }),
  )
})

test('[SRS-FHIR-450] search: a date value becomes bound SQL parameters appended after those already taken, never inlined text', () => {
  const cases: Record<DatePrefix, string> = {
    eq: '(t.at >= $2::timestamptz AND t.at < $3::timestamptz)',
    ne: '(t.at < $2::timestamptz OR t.at >= $3::timestamptz)',
    lt: 't.at < $2::timestamptz',
    le: 't.at < $2::timestamptz',
    gt: 't.at >= $2::timestamptz',
    ge: 't.at >= $2::timestamptz',
  }
  const expectedParams: Record<DatePrefix, string[]> = {
    eq: ['2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z'],
    ne: ['2024-05-01T00:00:00.000Z', '2024-05-02T00:00:00.000Z'],
    lt: ['2024-05-01T00:00:00.000Z'],
    le: ['2024-05-02T00:00:00.000Z'],
    gt: ['2024-05-02T00:00:00.000Z'],
    ge: ['2024-05-01T00:00:00.000Z'],
  }
  for (const prefix of PREFIXES) {
    const params: unknown[] = ['patient-id']
    assert.equal(dateSql('t.at', parseDate('date', `${prefix}2024-05-01`), params), cases[prefix], prefix)
    assert.deepEqual(params, ['patient-id', ...expectedParams[prefix]], prefix)
  }
})

test('[SRS-FHIR-450] [SRS-FHIR-005] search: modifiers (name:exact, code:text, birthdate:missing) are not known parameters, so the lenient or strict handling of unknown parameters applies', () => {
  const patient = knownParams('Patient')
  for (const name of ['_id', 'identifier', 'name', 'birthdate', ...RESULT_PARAMS])
    assert.ok(patient.has(name), name)
  for (const modified of [
    'name:exact',
    'name:contains',
    'identifier:of-type',
    'birthdate:missing',
    '_id:not',
  ])
    assert.ok(!patient.has(modified), modified)
  assert.ok(!knownParams('Observation').has('code:text'))
  assert.ok(!knownParams('Observation').has('subject:Patient'))
  assert.ok(!knownParams('Observation').has('patient.name'), 'chained parameters are not supported either')
})

test('[SRS-FHIR-450] search: the query-string schema of every resource is closed, takes 1–10 values of 1–500 characters per parameter, and refuses a modifier', () => {
  const ajv = createAjv('text')
  for (const def of FHIR_RESOURCES) {
    const validate = ajv.compile(searchQuerySchema(def.type))
    const first = def.params[0]?.name ?? '_count'
    assert.ok(validate({ [first]: ['x'], _count: ['10'] }), `${def.type}: ${JSON.stringify(validate.errors)}`)
    assert.ok(validate({}), def.type)
    assert.ok(!validate({ [`${first}:exact`]: ['x'] }), `${def.type}: a modifier is not a declared parameter`)
    assert.ok(!validate({ nonsense: ['x'] }), def.type)
    assert.ok(
      !validate({ [first]: Array.from({ length: 11 }, () => 'x') }),
      `${def.type}: at most 10 repetitions`,
    )
    assert.ok(!validate({ [first]: [''] }), `${def.type}: an empty value`)
    assert.ok(!validate({ [first]: ['x'.repeat(501)] }), `${def.type}: a value over 500 characters`)
  }
  assert.throws(() => resourceDef('Medication'), /no FHIR resource definition for Medication/)
})

test('[SRS-FHIR-450] search: withOffset writes an instant in RFC 3339 with the given offset, Z for UTC', () => {
  const at = new Date('2024-05-01T07:30:00.000Z')
  assert.equal(withOffset(at, 0), '2024-05-01T07:30:00.000Z')
  assert.equal(withOffset(at, 120), '2024-05-01T09:30:00.000+02:00')
  assert.equal(withOffset(at, -330), '2024-05-01T02:00:00.000-05:30')
  assert.equal(withOffset(at, -30), '2024-05-01T07:00:00.000-00:30')
})
