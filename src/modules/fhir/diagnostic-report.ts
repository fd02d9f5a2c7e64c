// DiagnosticReport: a clinician's report over observations of one patient. Created with
// reports.write on that patient and device-data.read on every result; the conclusion is sealed
// with the patient's data key (migration 0008).

import { randomUUID } from 'node:crypto'

import { FhirError } from '../../fhir-format/outcome.ts'
import {
  datesOf,
  idsOf,
  isUuid,
  one,
  referencesOf,
  searchQuerySchema,
  tokensOf,
  withOffset,
} from '../../fhir-format/search.ts'
import { assertValidResource } from '../../fhir-format/validate.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import { LOINC } from './observation.ts'
import {
  AnyResource,
  FhirBody,
  etag,
  fhirBase,
  IdParams,
  Outcome,
  pagedBundle,
  pagingOf,
  scopeIds,
  unknownSearchParams,
} from './shared.ts'
import type { TypedApp } from '../../platform/http/typed-routes.ts'
import { conclusionAad, type FhirService, type ReportRow } from './service.ts'

/** pg returns uuid[] as an array; some drivers as '{a,b}'. */
function uuidArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v
  return v
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean)
}

export async function presentReport(ctx: ModuleContext, row: ReportRow): Promise<Record<string, unknown>> {
  const conclusion = row.conclusion_sealed
    ? await ctx.cipher.open(row.patient_id, row.conclusion_sealed, conclusionAad(row.id))
    : undefined
  const results = uuidArray(row.result_reading_ids)
  return {
    resourceType: 'DiagnosticReport',
    id: row.id,
    meta: { versionId: String(Number(row.version)), lastUpdated: new Date(row.updated_at).toISOString() },
    status: row.status,
    code: {
      coding: [{ system: LOINC, code: row.code, ...(row.code_display ? { display: row.code_display } : {}) }],
    },
    subject: { reference: `Patient/${row.patient_id}` },
    effectiveDateTime: withOffset(new Date(row.effective_at), Number(row.effective_offset_minutes)),
    issued: new Date(row.issued_at).toISOString(),
    ...(results.length ? { result: results.map((id) => ({ reference: `Observation/${id}` })) } : {}),
    ...(conclusion ? { conclusion } : {}),
  }
}

interface ReportResource {
  resourceType: 'DiagnosticReport'
  status: string
  code: { coding?: Array<{ system?: string; code?: string; display?: string }> }
  subject?: { reference?: string }
  effectiveDateTime?: string
  result?: Array<{ reference?: string }>
  conclusion?: string
}

const OFFSET = /(Z|([+-])(\d{2}):(\d{2}))$/

export function diagnosticReportRoutes(ctx: ModuleContext, fhir: FhirService) {
  const base = fhirBase(ctx)
  return async function diagnosticReports(app: TypedApp): Promise<void> {
    app.get(
      '/DiagnosticReport/:id',
      {
        config: { policy: 'reports.read' },
        schema: {
          tags: ['FHIR'],
          summary: 'Read a DiagnosticReport',
          params: IdParams,
          response: { 200: AnyResource },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!isUuid(id)) throw new AppError('NOT_FOUND')
        const row = await fhir.reportById(id.toLowerCase())
        if (!row) throw new AppError('NOT_FOUND')
        await request.authorize('reports.read', {
          type: 'DiagnosticReport',
          id: row.id,
          patientId: row.patient_id,
        })
        reply.header('etag', etag(Number(row.version)))
        return presentReport(ctx, row)
      },
    )

    app.get(
      '/DiagnosticReport',
      {
        config: { policy: 'reports.read' },
        preValidation: unknownSearchParams('DiagnosticReport'),
        schema: {
          tags: ['FHIR'],
          summary: 'Search DiagnosticReports',
          querystring: searchQuerySchema('DiagnosticReport'),
          response: { 200: AnyResource },
        },
      },
      async (request) => {
        const q = request.query
        const { count, cursor } = pagingOf(ctx, 'DiagnosticReport', q)
        if (one(q, '_sort') !== undefined || q._include)
          throw new FhirError(
            400,
            'not-supported',
            '_sort and _include are not supported on DiagnosticReport',
          )
        const patients = await scopeIds(request, 'reports.read', referencesOf(q, 'patient', 'Patient'))
        const page = await fhir.searchReports(
          {
            patients,
            ids: idsOf(q),
            codes: tokensOf(q, 'code').map((group) =>
              group.filter((t) => t.system === undefined || t.system === LOINC).map((t) => t.code),
            ),
            dates: datesOf(q, 'date'),
          },
          { count, cursor },
        )
        return pagedBundle(
          ctx,
          request,
          'DiagnosticReport',
          q,
          page,
          await Promise.all(page.rows.map((r) => presentReport(ctx, r))),
        )
      },
    )

    app.post(
      '/DiagnosticReport',
      {
        config: { policy: 'reports.write' },
        schema: {
          tags: ['FHIR'],
          summary: 'Create a DiagnosticReport over Observations of one patient (clinicians)',
          body: {
            ...FhirBody,
            examples: [
              {
                resourceType: 'DiagnosticReport',
                status: 'final',
                code: {
                  coding: [{ system: 'http://loinc.org', code: '11502-2', display: 'Laboratory report' }],
                },
                subject: { reference: 'Patient/00000000-0000-4000-8000-000000000000' },
                effectiveDateTime: '2026-11-01T09:00:00+01:00',
                result: [{ reference: 'Observation/00000000-0000-4000-8000-000000000001' }],
                conclusion: 'Glucose within target range.',
              },
            ],
          },
          response: {
            201: AnyResource,
            422: Outcome(
              'The report uses elements Vigil does not store, or its status, code, subject, time or results are not acceptable',
            ),
          },
        },
      },
      async (request, reply) => {
        assertValidResource<ReportResource>(request.body, 'DiagnosticReport')
        const r = request.body
        // Our profile: a LOINC code, a Patient subject, an effectiveDateTime with an offset, Observation results.
        const allowed = new Set([
          'resourceType',
          'status',
          'code',
          'subject',
          'effectiveDateTime',
          'result',
          'conclusion',
          'meta',
          'text',
        ])
        const extra = Object.keys(r).filter((k) => !allowed.has(k))
        if (extra.length)
          throw new FhirError(
            422,
            'not-supported',
            'Vigil does not store these DiagnosticReport elements',
            extra.map((k) => `DiagnosticReport.${k}`),
          )
        if (
          !['registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended'].includes(
            r.status,
          )
        )
          throw new FhirError(422, 'value', 'status cannot be used on a new report', [
            'DiagnosticReport.status',
          ])
        const coding = r.code.coding?.find((c) => c.system === LOINC && c.code)
        if (!coding?.code)
          throw new FhirError(422, 'required', 'code needs a LOINC coding', ['DiagnosticReport.code'])
        const code = coding.code
        const subject = /^Patient\/([0-9a-fA-F-]{36})$/.exec(r.subject?.reference ?? '')?.[1]
        if (!subject || !isUuid(subject))
          throw new FhirError(422, 'required', 'subject must be Patient/<id>', ['DiagnosticReport.subject'])
        const offset = OFFSET.exec(r.effectiveDateTime ?? '')
        if (!r.effectiveDateTime || !offset || !r.effectiveDateTime.includes('T'))
          throw new FhirError(422, 'required', 'effectiveDateTime with a time and an offset is required', [
            'DiagnosticReport.effectiveDateTime',
          ])
        const offsetMinutes =
          offset[1] === 'Z' ? 0 : (offset[2] === '-' ? -1 : 1) * (Number(offset[3]) * 60 + Number(offset[4]))
        const results = (r.result ?? []).map((ref, n) => {
          const id = /^Observation\/([0-9a-fA-F-]{36})$/.exec(ref.reference ?? '')?.[1]
          if (!id || !isUuid(id))
            throw new FhirError(422, 'value', 'a result must be Observation/<id>', [
              `DiagnosticReport.result[${n}]`,
            ])
          return id.toLowerCase()
        })
        const patientId = subject.toLowerCase()
        await request.authorize('reports.write', { type: 'DiagnosticReport', patientId })
        // Every result: an Observation of this same patient that the author may read.
        const unique = [...new Set(results)]
        const found = unique.length ? await fhir.readingIdsOfPatient(unique, patientId) : []
        if (found.length !== unique.length)
          throw new FhirError(
            422,
            'value',
            'every result must be an Observation of the report\u2019s subject',
            ['DiagnosticReport.result'],
          )
        for (const id of unique)
          await request.authorize('device-data.read', {
            type: 'Observation',
            id,
            patientId,
            interaction: 'r',
          })

        const id = randomUUID()
        const row = await fhir.createReport(
          {
            id,
            patientId,
            code,
            codeDisplay: coding.display ?? null,
            status: r.status,
            effectiveAt: new Date(r.effectiveDateTime as string).toISOString(),
            effectiveOffsetMinutes: offsetMinutes,
            resultReadingIds: unique,
            conclusion: r.conclusion,
            performerUserId: request.principal?.kind === 'user' ? request.principal.id : null,
          },
          (tx, entry) => request.auditInTransaction(tx, entry),
        )
        reply
          .code(201)
          .header('location', `${base}/DiagnosticReport/${id}/_history/1`)
          .header('etag', etag(1))
        return presentReport(ctx, row)
      },
    )
  }
}
