// The FHIR resources Vigil serves, as one table: interactions, search parameters, includes. The
// route adapters parse searches with it, the query-string schemas are generated from it, and the
// CapabilityStatement is written from it — so what the server says it does and what it does
// cannot drift apart (ADR-0011).

import { Type, type TSchema, type TUnsafe } from 'typebox'
import {
  isCalendarDay,
  isClockTime,
  isInstantInRange,
  isUtcOffset,
  utcInstant,
} from '../platform/http/calendar.ts'
import { FhirError } from './outcome.ts'

export type SearchParamType = 'token' | 'string' | 'date' | 'reference' | 'number' | 'special'

export interface SearchParamDef {
  readonly name: string
  readonly type: SearchParamType
  readonly documentation: string
  /** The R4 SearchParameter canonical, for core parameters. */
  readonly definition?: string
}

export type Interaction = 'read' | 'search-type' | 'create' | 'update'

export interface ResourceDef {
  readonly type: string
  readonly profile?: string
  readonly supportedProfiles?: readonly string[]
  readonly interactions: readonly Interaction[]
  readonly params: readonly SearchParamDef[]
  readonly includes?: readonly string[]
  readonly conditionalCreate?: boolean
  readonly conditionalUpdate?: boolean
  /** Implemented by another module inside the FHIR scope (AuditEvent: the auditor module). */
  readonly providedBy?: string
}

const sp = (resource: string, name: string) =>
  `http://hl7.org/fhir/SearchParameter/${resource}-${name.replace(/^_/, '')}`
const lastUpdated: SearchParamDef = {
  name: '_lastUpdated',
  type: 'date',
  documentation: 'When the resource version last changed (eq, ne, lt, le, gt, ge)',
  definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
}
const idParam: SearchParamDef = {
  name: '_id',
  type: 'token',
  documentation: 'Logical id (comma-separated for several)',
  definition: 'http://hl7.org/fhir/SearchParameter/Resource-id',
}

export const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns'

export const FHIR_RESOURCES: readonly ResourceDef[] = [
  {
    type: 'Patient',
    interactions: ['read', 'search-type', 'create', 'update'],
    conditionalCreate: true,
    params: [
      idParam,
      {
        name: 'identifier',
        type: 'token',
        documentation: 'system|value, exact match through a keyed blind index',
        definition: sp('Patient', 'identifier'),
      },
      {
        name: 'name',
        type: 'string',
        documentation: 'Case-insensitive prefix of a given or family name, within the caller\u2019s patients',
        definition: sp('Patient', 'name'),
      },
      {
        name: 'birthdate',
        type: 'date',
        documentation: 'Birth date with eq, ne, lt, le, gt, ge',
        definition: 'http://hl7.org/fhir/SearchParameter/individual-birthdate',
      },
    ],
  },
  {
    type: 'Device',
    interactions: ['read', 'search-type'],
    params: [
      idParam,
      {
        name: 'patient',
        type: 'reference',
        documentation: 'The patient the device is bound to now',
        definition: sp('Device', 'patient'),
      },
      {
        name: 'identifier',
        type: 'token',
        documentation: 'Serial number (urn:vigil:device-serial|<serial>, or the serial alone)',
        definition: sp('Device', 'identifier'),
      },
    ],
  },
  {
    type: 'Observation',
    profile: VITAL_SIGNS_PROFILE,
    interactions: ['read', 'search-type'],
    includes: ['Observation:subject', 'Observation:device'],
    params: [
      idParam,
      {
        name: 'patient',
        type: 'reference',
        documentation: 'The patient (Patient/<id> or <id>)',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient',
      },
      {
        name: 'subject',
        type: 'reference',
        documentation: 'The subject: a Patient reference',
        definition: sp('Observation', 'subject'),
      },
      {
        name: 'code',
        type: 'token',
        documentation: 'LOINC code as http://loinc.org|<code> (or the code alone)',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-code',
      },
      {
        name: 'date',
        type: 'date',
        documentation: 'effective[x] with eq, ne, lt, le, gt, ge; repeat for a range',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-date',
      },
      {
        name: 'category',
        type: 'token',
        documentation: 'vital-signs or laboratory (observation-category)',
        definition: sp('Observation', 'category'),
      },
      {
        name: 'device',
        type: 'reference',
        documentation: 'The device that measured (Device/<id>)',
        definition: sp('Observation', 'device'),
      },
      lastUpdated,
    ],
  },
  {
    type: 'DiagnosticReport',
    interactions: ['read', 'search-type', 'create'],
    params: [
      idParam,
      {
        name: 'patient',
        type: 'reference',
        documentation: 'The patient (Patient/<id> or <id>)',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient',
      },
      {
        name: 'date',
        type: 'date',
        documentation: 'effective[x] with eq, ne, lt, le, gt, ge',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-date',
      },
      {
        name: 'code',
        type: 'token',
        documentation: 'LOINC code of the report',
        definition: 'http://hl7.org/fhir/SearchParameter/clinical-code',
      },
    ],
  },
  {
    type: 'AuditEvent',
    providedBy: 'auditor',
    interactions: ['read', 'search-type'],
    params: [
      {
        name: 'patient',
        type: 'reference',
        documentation: 'The patient whose data the event concerns',
        definition: sp('AuditEvent', 'patient'),
      },
      { name: 'agent', type: 'reference', documentation: 'Who acted', definition: sp('AuditEvent', 'agent') },
      {
        name: 'date',
        type: 'date',
        documentation: 'When the event happened',
        definition: sp('AuditEvent', 'date'),
      },
      {
        name: 'action',
        type: 'token',
        documentation: 'C, R, U, D or E',
        definition: sp('AuditEvent', 'action'),
      },
      {
        name: 'outcome',
        type: 'token',
        documentation: '0, 4, 8 or 12',
        definition: sp('AuditEvent', 'outcome'),
      },
    ],
  },
]

/** Result parameters every search takes (R4 §3.1.1.5), and the paging cursor of our next/previous links. */
export const RESULT_PARAMS = ['_count', '_sort', '_include', '_format', '_cursor'] as const
export const DEFAULT_COUNT = 50
export const MAX_COUNT = 200

export function resourceDef(type: string): ResourceDef {
  const def = FHIR_RESOURCES.find((r) => r.type === type)
  if (!def) throw new Error(`no FHIR resource definition for ${type}`)
  return def
}

const Values = Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 10 })

/** The querystring schema of a search: every declared parameter, closed (unknown ones are handled before validation). */
export function searchQuerySchema(type: string): TUnsafe<Query> {
  const def = resourceDef(type)
  const props: Record<string, TSchema> = {}
  for (const p of def.params) props[p.name] = Type.Optional(Values)
  for (const r of RESULT_PARAMS) props[r] = Type.Optional(Values)
  // The parameters are known only at run time; handlers read them as a Query (the same JSON schema).
  return Type.Unsafe<Query>(Type.Object(props, { additionalProperties: false }))
}

export function knownParams(type: string): Set<string> {
  return new Set([...resourceDef(type).params.map((p) => p.name), ...RESULT_PARAMS])
}

// ---- values -------------------------------------------------------------------------------

export type Query = Record<string, readonly string[] | undefined>

export function one(q: Query, name: string): string | undefined {
  const v = q[name]
  if (!v || v.length === 0) return undefined
  if (v.length > 1) throw new FhirError(400, 'invalid', `search parameter ${name} may be given once`, [name])
  return v[0]
}

/** `_count`: 1..200, default 50. */
export function countOf(q: Query): number {
  const raw = one(q, '_count')
  if (raw === undefined) return DEFAULT_COUNT
  if (!/^\d{1,4}$/.test(raw)) throw new FhirError(400, 'invalid', '_count must be a whole number', ['_count'])
  const n = Number(raw)
  if (n < 1 || n > MAX_COUNT)
    throw new FhirError(400, 'invalid', `_count must be between 1 and ${MAX_COUNT}`, ['_count'])
  return n
}

export interface TokenValue {
  readonly system?: string
  readonly code: string
}

/** `system|code`, `|code` (no system), or `code` (any system); comma-separated values are OR. */
export function tokensOf(q: Query, name: string): TokenValue[][] {
  return (q[name] ?? []).map((v) =>
    v.split(',').map((t) => {
      const bar = t.indexOf('|')
      if (bar < 0) return { code: t }
      const code = t.slice(bar + 1)
      if (code === '')
        throw new FhirError(400, 'invalid', `search parameter ${name}: a code is required after the system`, [
          name,
        ])
      return { system: t.slice(0, bar), code }
    }),
  )
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Reference values (`<id>`, `Type/<id>`, or an absolute URL ending in it) → ids; comma-separated values are OR; repetitions AND. */
export function referencesOf(q: Query, name: string, type: string): string[][] {
  return (q[name] ?? []).map((v) =>
    v.split(',').map((ref) => {
      const parts = ref.split('/')
      const id = parts.at(-1) ?? ''
      const named = parts.at(-2)
      if (parts.length > 1 && named !== type)
        throw new FhirError(400, 'invalid', `search parameter ${name} refers to ${type} resources`, [name])
      // An id that cannot exist matches nothing: use a value no row has rather than failing the search.
      return UUID.test(id) ? id.toLowerCase() : '00000000-0000-0000-0000-000000000000'
    }),
  )
}

export function idsOf(q: Query): string[][] {
  return (q['_id'] ?? []).map((v) =>
    v.split(',').map((id) => (UUID.test(id) ? id.toLowerCase() : '00000000-0000-0000-0000-000000000000')),
  )
}

export const isUuid = (s: string): boolean => UUID.test(s)

export type DatePrefix = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'

export interface DateRange {
  readonly prefix: DatePrefix
  /** inclusive start, exclusive end of the value's implicit range (its precision) */
  readonly start: Date
  readonly end: Date
}

const DATE =
  /^(eq|ne|lt|le|gt|ge|sa|eb|ap)?(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/

/** A date search value with its prefix, as the range of instants its precision covers. */
export function parseDate(name: string, value: string): DateRange {
  const m = DATE.exec(value)
  if (!m)
    throw new FhirError(
      400,
      'invalid',
      `search parameter ${name}: expected [eq|ne|lt|le|gt|ge]YYYY[-MM[-DD[Thh:mm[:ss][Z|±hh:mm]]]]`,
      [name],
    )
  const [, prefixRaw, y, mo, d, h, mi, s, frac, tz] = m
  if (prefixRaw === 'sa' || prefixRaw === 'eb' || prefixRaw === 'ap')
    throw new FhirError(
      400,
      'not-supported',
      `search parameter ${name}: prefix ${prefixRaw} is not supported`,
      [name],
    )
  const prefix = (prefixRaw ?? 'eq') as DatePrefix
  const invalid = () =>
    new FhirError(
      400,
      'invalid',
      `search parameter ${name}: not a valid date (a calendar day in years 0001-9999, no leap second)`,
      [name],
    )
  // Field by field: Date.UTC would read year 0099 as 1999 and roll 2021-02-30 over to 2 March (ADR-0015).
  const year = Number(y)
  const month = mo === undefined ? 1 : Number(mo)
  const day = d === undefined ? 1 : Number(d)
  if (!isCalendarDay(year, month, day)) throw invalid()
  let start: Date
  let end: Date
  if (h !== undefined) {
    if (!isClockTime(Number(h), Number(mi), Number(s ?? '0')) || (tz !== undefined && !isUtcOffset(tz)))
      throw invalid()
    const offset = tz === undefined || tz === 'Z' ? 'Z' : tz
    start = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${offset}`)
    const step = s === undefined ? 60_000 : frac === undefined ? 1000 : 1
    end = new Date(start.getTime() + step)
  } else if (d !== undefined) {
    start = utcInstant(year, month, day)
    end = utcInstant(year, month, day + 1)
  } else if (mo !== undefined) {
    start = utcInstant(year, month, 1)
    end = utcInstant(year, month + 1, 1)
  } else {
    start = utcInstant(year, 1, 1)
    end = utcInstant(year + 1, 1, 1)
  }
  // The end may be 10000-01-01 (exclusive) for a value in 9999; the start must be a real instant in range.
  if (!isInstantInRange(start) || Number.isNaN(end.getTime())) throw invalid()
  return { prefix, start, end }
}

export function datesOf(q: Query, name: string): DateRange[] {
  return (q[name] ?? []).map((v) => {
    if (v.includes(','))
      throw new FhirError(
        400,
        'not-supported',
        `search parameter ${name}: several values in one parameter are not supported; repeat the parameter`,
        [name],
      )
    return parseDate(name, v)
  })
}

/** Does an instant fall in a date search value? (for values compared in memory: birth dates) */
export function dateMatches(r: DateRange, at: Date, atEnd: Date = new Date(at.getTime() + 1)): boolean {
  const t = at.getTime()
  switch (r.prefix) {
    case 'eq':
      return t >= r.start.getTime() && atEnd.getTime() <= r.end.getTime()
    case 'ne':
      return !(t >= r.start.getTime() && atEnd.getTime() <= r.end.getTime())
    case 'lt':
      return t < r.start.getTime()
    case 'le':
      return t < r.end.getTime()
    case 'gt':
      return atEnd.getTime() > r.end.getTime() && t >= r.end.getTime()
    case 'ge':
      return t >= r.start.getTime()
  }
}

/** SQL conditions for a date search value on a timestamptz column; params are appended. */
export function dateSql(column: string, r: DateRange, params: unknown[]): string {
  const p = (v: Date) => {
    // The exclusive end of a value in year 9999 is year 10000, which PostgreSQL reads only as infinity.
    params.push(isInstantInRange(v) ? v.toISOString() : 'infinity')
    return `$${params.length}::timestamptz`
  }
  switch (r.prefix) {
    case 'eq':
      return `(${column} >= ${p(r.start)} AND ${column} < ${p(r.end)})`
    case 'ne':
      return `(${column} < ${p(r.start)} OR ${column} >= ${p(r.end)})`
    case 'lt':
      return `${column} < ${p(r.start)}`
    case 'le':
      return `${column} < ${p(r.end)}`
    case 'gt':
      return `${column} >= ${p(r.end)}`
    case 'ge':
      return `${column} >= ${p(r.start)}`
  }
}

/** An instant in RFC 3339 with the given offset (minutes east of UTC): 2024-05-01T09:30:00.000+02:00. */
export function withOffset(at: Date, offsetMinutes: number): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23)
  if (offsetMinutes === 0) return `${local}Z`
  const sign = offsetMinutes < 0 ? '-' : '+'
  const abs = Math.abs(offsetMinutes)
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}
