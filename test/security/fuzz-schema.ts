// The fuzzer's raw material: fast-check arbitraries generated from an OpenAPI operation's JSON
// schemas, the hostile values of issue 11, and a JSON writer that can emit what JSON.stringify
// cannot (1e309, -0, a document nested 10,000 deep, invalid UTF-8).

import fc from 'fast-check'

export type JsonSchema = Record<string, unknown>

/** A value written into the JSON text as is (a number literal JSON.stringify would change). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of a generated value; RawJson leaves go in verbatim. Generated values are shallow, so recursion is fine here. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`
  return JSON.stringify(value) ?? 'null'
}

const DATE_PATTERN = /\\d\{4\}-\\d\{2\}-\\d\{2\}|\[0-9\]\{4\}-/
/** Whether a schema describes a date or date-time (format, or a date-shaped pattern). */
export function isDateSchema(schema: JsonSchema | undefined): boolean {
  if (!schema) return false
  return (
    schema.format === 'date' ||
    schema.format === 'date-time' ||
    (typeof schema.pattern === 'string' && DATE_PATTERN.test(schema.pattern))
  )
}

const MAX_GENERATED_STRING = 40

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0
  const max = Math.max(
    min,
    Math.min(
      typeof schema.maxLength === 'number' ? schema.maxLength : MAX_GENERATED_STRING,
      MAX_GENERATED_STRING,
    ),
  )
  switch (schema.format) {
    case 'uuid':
      return fc.uuid()
    case 'date-time':
      return fc
        .date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2100-01-01T00:00:00Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString())
    case 'date':
      return fc
        .date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2100-01-01T00:00:00Z'),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString().slice(0, 10))
    case 'email':
      return fc.emailAddress()
    case 'uri':
      return fc.webUrl()
  }
  if (typeof schema.pattern === 'string') {
    try {
      const re = new RegExp(schema.pattern)
      return fc.oneof(
        fc.stringMatching(re).filter((s) => s.length >= min && s.length <= Math.max(max, 200)),
        fc.string({ minLength: min, maxLength: max }),
      )
    } catch {
      // a pattern JavaScript cannot compile: plain strings
    }
  }
  return fc.oneof(
    fc.string({ minLength: min, maxLength: max }),
    fc.string({ unit: 'grapheme', minLength: min, maxLength: max }),
  )
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = typeof schema.minimum === 'number' ? schema.minimum : -1e6
  const max = typeof schema.maximum === 'number' ? schema.maximum : 1e6
  const inRange = integer
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
  // Now and then a value just outside the declared range.
  return fc.oneof(
    { weight: 4, arbitrary: inRange },
    { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1, 0) },
  )
}

/** An arbitrary for a JSON schema (the subset the route schemas use); unknown shapes give any JSON value. */
export function arbitraryFor(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant(null)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  if ('const' in schema) return fc.constant(schema.const)
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key]
    if (Array.isArray(options) && options.length > 0)
      return fc.oneof(...options.map((o) => arbitraryFor(o as JsonSchema, depth + 1)))
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string':
      return stringArbitrary(schema)
    case 'integer':
      return numberArbitrary(schema, true)
    case 'number':
      return numberArbitrary(schema, false)
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0
      const max = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 3, Math.max(min, 3))
      return fc.array(arbitraryFor(schema.items as JsonSchema | undefined, depth + 1), {
        minLength: min,
        maxLength: max,
      })
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>
      if (Object.keys(properties).length === 0)
        return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })
      const required = new Set((schema.required ?? []) as string[])
      const record: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [name, sub] of Object.entries(properties)) record[name] = arbitraryFor(sub, depth + 1)
      return fc.record(record, { requiredKeys: Object.keys(properties).filter((k) => required.has(k)) })
    }
  }
  return fc.jsonValue({ maxDepth: 2 })
}

// ---- hostile values (issue 11) ---------------------------------------------------------------

/** A hostile value and whether the boundary must refuse it wherever it is put (or only in a date field). */
export interface Hostile {
  readonly name: string
  /** The value (a string, or RawJson for a body number). */
  readonly value: string | RawJson
  /** Refused wherever it stands (NUL, surrogates, 1 MB, 1e309) — or only as a date. */
  readonly refusedAnywhere: boolean
  /** Carries the run's log marker: it must never appear in a log line. */
  readonly marked: boolean
}

export function hostileStrings(marker: string): Hostile[] {
  return [
    { name: 'NUL', value: `${marker}\u0000x`, refusedAnywhere: true, marked: true },
    { name: 'lone high surrogate', value: `${marker}\ud800`, refusedAnywhere: true, marked: true },
    { name: 'lone low surrogate', value: `\udc00${marker}`, refusedAnywhere: true, marked: true },
    { name: 'leap second', value: '9999-12-31T23:59:60Z', refusedAnywhere: false, marked: false },
    { name: 'year 0', value: '0000-01-01T00:00:00Z', refusedAnywhere: false, marked: false },
    { name: 'year 10000', value: '10000-01-01T00:00:00Z', refusedAnywhere: false, marked: false },
    { name: '30 February', value: '2021-02-30T10:00:00Z', refusedAnywhere: false, marked: false },
    { name: 'month 13', value: '2020-13-45', refusedAnywhere: false, marked: false },
    { name: 'year 0 date', value: '0000-01-01', refusedAnywhere: false, marked: false },
  ]
}

/** Hostile values only a JSON body can carry. */
export function hostileBodyValues(marker: string): Hostile[] {
  return [
    { name: '1e309', value: new RawJson('1e309'), refusedAnywhere: true, marked: false },
    { name: '-0', value: new RawJson('-0'), refusedAnywhere: false, marked: false },
    { name: '1 MB string', value: `${marker}${'x'.repeat(1_000_000)}`, refusedAnywhere: true, marked: true },
  ]
}

/** A JSON document nested 10,000 deep (arrays), as text. */
export const DEEP_JSON = `${'['.repeat(10_000)}${']'.repeat(10_000)}`

/** Body encodings and media types that a JSON route must refuse (415, or 400 for bytes that are not UTF-8). */
export const HOSTILE_BODY_FORMS = [
  'form',
  'text/plain',
  'charset=utf-16',
  'charset=latin1',
  'application/xml',
  'invalid UTF-8',
  'deep',
] as const
export type HostileBodyForm = (typeof HOSTILE_BODY_FORMS)[number]
