// Observation: every device reading (table readings) as an R4 Observation — vital-signs profile
// where one applies, LOINC code, UCUM quantities, blood-pressure components, subject and device
// references, effective time with the device's offset, issued, version and last update.

import { FhirError } from '../../fhir-format/outcome.ts'
import {
  datesOf,
  idsOf,
  isUuid,
  one,
  referencesOf,
  searchQuerySchema,
  tokensOf,
  VITAL_SIGNS_PROFILE,
  withOffset,
  type Query,
} from '../../fhir-format/search.ts'
import { AppError } from '../../platform/http/errors.ts'
import { granularConstraints, type GranularConstraint } from '../../security/policy/scopes.ts'
import { openReading } from '../device-data/index.ts'
import type { ModuleContext } from '../context.ts'
import { presentDevice } from './device.ts'
import { presentPatient } from './patient.ts'
import {
  AnyResource,
  etag,
  IdParams,
  maySee,
  pagedBundle,
  pagingOf,
  scopeIds,
  unknownSearchParams,
} from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'
import type { FhirService, GranularTerm, ReadingRow } from './service.ts'

export const LOINC = 'http://loinc.org'
export const UCUM = 'http://unitsofmeasure.org'
const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category'

/** LOINC codes with an R4 vital-signs profile, and their display names. */
const VITALS: Record<string, { profile: string; display: string }> = {
  '85354-9': {
    profile: 'http://hl7.org/fhir/StructureDefinition/bp',
    display: 'Blood pressure panel with all children optional',
  },
  '8867-4': { profile: 'http://hl7.org/fhir/StructureDefinition/heartrate', display: 'Heart rate' },
  '9279-1': { profile: 'http://hl7.org/fhir/StructureDefinition/resprate', display: 'Respiratory rate' },
  '2708-6': {
    profile: 'http://hl7.org/fhir/StructureDefinition/oxygensat',
    display: 'Oxygen saturation in Arterial blood',
  },
  '59408-5': {
    profile: 'http://hl7.org/fhir/StructureDefinition/oxygensat',
    display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
  },
  '8310-5': { profile: 'http://hl7.org/fhir/StructureDefinition/bodytemp', display: 'Body temperature' },
  '8302-2': { profile: 'http://hl7.org/fhir/StructureDefinition/bodyheight', display: 'Body height' },
  '29463-7': { profile: 'http://hl7.org/fhir/StructureDefinition/bodyweight', display: 'Body weight' },
  '39156-5': {
    profile: 'http://hl7.org/fhir/StructureDefinition/bmi',
    display: 'Body mass index (BMI) [Ratio]',
  },
}
const DISPLAY: Record<string, string> = {
  '2339-0': 'Glucose [Mass/volume] in Blood',
  '8480-6': 'Systolic blood pressure',
  '8462-4': 'Diastolic blood pressure',
}

const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit })
const loinc = (code: string) => ({
  coding: [
    {
      system: LOINC,
      code,
      ...(VITALS[code] || DISPLAY[code] ? { display: VITALS[code]?.display ?? DISPLAY[code] } : {}),
    },
  ],
})

export async function presentObservation(
  ctx: ModuleContext,
  row: ReadingRow,
): Promise<Record<string, unknown>> {
  const content = await openReading(ctx.cipher, row.patient_id, row.id, row.value_sealed)
  const vital = row.category === 'vital-signs' ? VITALS[row.code] : undefined
  return {
    resourceType: 'Observation',
    id: row.id,
    meta: {
      versionId: String(Number(row.version)),
      lastUpdated: new Date(row.updated_at).toISOString(),
      ...(vital ? { profile: [VITAL_SIGNS_PROFILE, vital.profile] } : {}),
    },
    status: 'final',
    category: [
      {
        coding: [
          {
            system: CATEGORY_SYSTEM,
            code: row.category,
            display:
              row.category === 'vital-signs'
                ? 'Vital Signs'
                : row.category === 'laboratory'
                  ? 'Laboratory'
                  : row.category,
          },
        ],
      },
    ],
    code: loinc(row.code),
    subject: { reference: `Patient/${row.patient_id}` },
    effectiveDateTime: withOffset(new Date(row.effective_at), Number(row.effective_offset_minutes)),
    issued: new Date(row.received_at).toISOString(),
    ...(content.value !== undefined && content.unit !== undefined
      ? { valueQuantity: quantity(content.value, content.unit) }
      : {}),
    ...(row.device_id ? { device: { reference: `Device/${row.device_id}` } } : {}),
    ...(content.note ? { note: [{ text: content.note }] } : {}),
    ...(content.components && content.components.length > 0
      ? {
          component: content.components.map((c) => ({
            code: loinc(c.code),
            valueQuantity: quantity(c.value, c.unit),
          })),
        }
      : {}),
  }
}

/** Token values to codes: a system other than `system` matches nothing. */
function codesOf(q: Query, name: string, system: string): string[][] {
  return tokensOf(q, name).map((group) =>
    group.filter((t) => t.system === undefined || t.system === system).map((t) => t.code),
  )
}

/** A granular scope's parameter value (`system|code` or `code`) as the stored code, or null when its system is not the expected one. */
function granularValue(value: string, system: string): string | null {
  const bar = value.indexOf('|')
  if (bar < 0) return value
  const sys = value.slice(0, bar)
  return sys === '' || sys === system ? value.slice(bar + 1) : null
}

/** Does a reading meet one of the granular constraints (category and code are enforced; any other parameter matches nothing)? */
function meetsGranular(
  row: Pick<ReadingRow, 'category' | 'code'>,
  constraints: readonly GranularConstraint[],
): boolean {
  return constraints.some((c) =>
    c.every(([name, value]) =>
      name === 'category'
        ? granularValue(value, CATEGORY_SYSTEM) === row.category
        : name === 'code'
          ? granularValue(value, LOINC) === row.code
          : false,
    ),
  )
}

/** The constraints as terms for the search: a column and its value, or null for a parameter no column answers. */
function granularTerms(constraints: readonly GranularConstraint[]): GranularTerm[][] {
  return constraints.map((c) =>
    c.map(([name, value]) => {
      const v =
        name === 'category'
          ? granularValue(value, CATEGORY_SYSTEM)
          : name === 'code'
            ? granularValue(value, LOINC)
            : null
      return v === null ? null : { column: name as 'category' | 'code', value: v }
    }),
  )
}

export function observationRoutes(ctx: ModuleContext, fhir: FhirService) {
  return async function observations(app: TypedApp): Promise<void> {
    app.get(
      '/Observation/:id',
      {
        config: { policy: 'device-data.read' },
        schema: {
          tags: ['FHIR'],
          summary: 'Read an Observation (a device reading)',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!isUuid(id)) throw new AppError('NOT_FOUND')
        const row = await fhir.readingById(id.toLowerCase())
        if (!row) throw new AppError('NOT_FOUND')
        await request.authorize('device-data.read', {
          type: 'Observation',
          id: row.id,
          patientId: row.patient_id,
        })
        // A granular SMART scope (patient/Observation.rs?category=vital-signs) reaches only what it names.
        const granular = request.principal
          ? granularConstraints(request.principal, 'device-data.read', 'r')
          : undefined
        if (granular && !meetsGranular(row, granular)) throw new AppError('NOT_FOUND')
        reply
          .header('etag', etag(Number(row.version)))
          .header('last-modified', new Date(row.updated_at).toUTCString())
        return presentObservation(ctx, row)
      },
    )

    app.get(
      '/Observation',
      {
        config: { policy: 'device-data.read' },
        preValidation: unknownSearchParams('Observation'),
        schema: {
          tags: ['FHIR'],
          summary: 'Search Observations (searchset Bundle, keyset paging)',
          querystring: searchQuerySchema('Observation'),
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const q = request.query
        const { count, cursor } = pagingOf(ctx, 'Observation', q)
        const sort = one(q, '_sort') ?? '-date'
        if (sort !== '-date' && sort !== 'date')
          throw new FhirError(400, 'not-supported', '_sort supports date and -date', ['_sort'])
        const includes = (q._include ?? []).flatMap((v) => v.split(','))
        for (const inc of includes)
          if (inc !== 'Observation:subject' && inc !== 'Observation:device')
            throw new FhirError(
              400,
              'not-supported',
              '_include supports Observation:subject and Observation:device',
              ['_include'],
            )

        const patients = await scopeIds(request, 'device-data.read', [
          ...referencesOf(q, 'patient', 'Patient'),
          ...referencesOf(q, 'subject', 'Patient'),
        ])
        // Granular SMART scopes: only the Observations their parameters name (SMART App Launch 2.0 §3.0.2.3).
        const granular = request.principal
          ? granularConstraints(request.principal, 'device-data.read', 's')
          : undefined
        const page = await fhir.searchReadings(
          {
            patients,
            ids: idsOf(q),
            codes: codesOf(q, 'code', LOINC),
            categories: codesOf(q, 'category', CATEGORY_SYSTEM),
            devices: referencesOf(q, 'device', 'Device'),
            dates: datesOf(q, 'date'),
            lastUpdated: datesOf(q, '_lastUpdated'),
            granular: granular && granularTerms(granular),
            descending: sort === '-date',
          },
          { count, cursor },
        )
        const matches = await Promise.all(page.rows.map((r) => presentObservation(ctx, r)))

        // _include: each included resource is checked on its own; one the caller may not see is left out.
        const included: Array<Record<string, unknown>> = []
        if (includes.includes('Observation:subject')) {
          for (const pid of new Set(page.rows.map((r) => r.patient_id))) {
            if (!(await maySee(ctx, request, 'patients.read', { type: 'Patient', id: pid, patientId: pid })))
              continue
            const p = await ctx.patients.get(pid)
            if (p && p.demographics) included.push(presentPatient(p))
          }
        }
        if (includes.includes('Observation:device')) {
          const ids = [...new Set(page.rows.map((r) => r.device_id).filter((d): d is string => d !== null))]
          for (const device of await fhir.devicesByIds(ids)) {
            if (
              !device.patient_id ||
              !(await maySee(ctx, request, 'devices.read', {
                type: 'Device',
                id: device.id,
                patientId: device.patient_id,
              }))
            )
              continue
            included.push(presentDevice(device))
          }
        }
        return pagedBundle(ctx, request, 'Observation', q, page, matches, included)
      },
    )
  }
}
