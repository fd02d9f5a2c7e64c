// FHIR R4 AuditEvent views of the trail for auditors (IHE BALP; audit/audit-event.ts presents):
//   GET /AuditEvent?patient=&agent=&date=&action=&outcome=&_count=   Bundle searchset, newest first
//   GET /AuditEvent/{id}
// Registered inside the FHIR plugin at /fhir/R4, which supplies the FHIR content type and turns
// errors into OperationOutcome. Guarded by 'audit.read' (auditors); each request is audited.

import type { FastifyRequest } from 'fastify'
import { Type, type Static } from 'typebox'
import { OUTCOMES_OF_CODE, toAuditEvent } from '../../audit/audit-event.ts'
import { isValidDate, parseDateTime } from '../../platform/http/calendar.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { ModuleContext } from '../context.ts'
import { AUDIT_READ, MAX_PAGE, createAuditorService } from './service.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const FHIR_JSON = 'application/fhir+json; charset=utf-8'

const SearchQuery = Type.Object(
  {
    patient: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Patient id or Patient/<id>' }),
    ),
    agent: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'User, device or client id (or Device/<id>, Patient/<id>) of an agent',
      }),
    ),
    date: Type.Optional(
      Type.Array(
        Type.String({
          minLength: 4,
          maxLength: 40,
          pattern: '^(ge|gt|le|lt|eq)?\\d{4}-\\d{2}-\\d{2}(T.+)?$',
        }),
        {
          maxItems: 4,
          description:
            'ge/gt/le/lt/eq followed by a date (YYYY-MM-DD, UTC day) or an RFC 3339 date-time; repeat for a range',
        },
      ),
    ),
    action: Type.Optional(Type.Union(['C', 'R', 'U', 'D', 'E'].map((a) => Type.Literal(a)))),
    outcome: Type.Optional(Type.Union(['0', '4', '8', '12'].map((o) => Type.Literal(o)))),
    _count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50 })),
    _cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Paging: the cursor in the `next` link' }),
    ),
  },
  { additionalProperties: false },
)
type SearchQuery = Static<typeof SearchQuery>
const IdParam = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
)

const Resource = (type: string) =>
  Type.Object(
    { resourceType: Type.Literal(type) },
    { additionalProperties: true, description: `A FHIR R4 ${type}` },
  )

type Bound = { at: Date; inclusive: boolean }

/** FHIR date search (R4 §3.1.1.4.2): a day covers [00:00Z, next 00:00Z); a date-time is an instant. */
export function dateBounds(values: readonly string[]): { after: Bound[]; before: Bound[] } {
  const after: Bound[] = []
  const before: Bound[] = []
  for (const raw of values) {
    const m = /^(ge|gt|le|lt|eq)?(.+)$/.exec(raw)
    const prefix = m?.[1] ?? 'eq'
    const value = m?.[2] ?? ''
    const isDay = /^\d{4}-\d{2}-\d{2}$/.test(value)
    // A real calendar day or instant in years 0001-9999, no leap second (ADR-0015).
    const start = isDay
      ? isValidDate(value)
        ? new Date(`${value}T00:00:00Z`)
        : undefined
      : parseDateTime(value)
    if (start === undefined) {
      throw new AppError(
        'VALIDATION_FAILED',
        'date must be a day (YYYY-MM-DD) or a date-time with an offset',
        { errors: [{ pointer: '/querystring/date', detail: 'not a date' }] },
      )
    }
    const end = isDay ? new Date(start.getTime() + 86_400_000) : start
    // With a day, the range is [start, end); with an instant, start = end.
    if (prefix === 'ge') after.push({ at: start, inclusive: true })
    else if (prefix === 'gt')
      after.push(isDay ? { at: end, inclusive: true } : { at: start, inclusive: false })
    else if (prefix === 'le')
      before.push(isDay ? { at: end, inclusive: false } : { at: start, inclusive: true })
    else if (prefix === 'lt') before.push({ at: start, inclusive: false })
    else {
      after.push({ at: start, inclusive: true })
      before.push(isDay ? { at: end, inclusive: false } : { at: start, inclusive: true })
    }
  }
  return { after, before }
}

const stripType = (v: string | undefined, ...types: string[]): string | undefined => {
  if (v === undefined) return undefined
  for (const t of types) if (v.startsWith(`${t}/`)) return v.slice(t.length + 1)
  return v
}

function selfUrl(ctx: ModuleContext, request: FastifyRequest, params: URLSearchParams): string {
  const path = request.routeOptions.url ?? '/AuditEvent'
  const qs = params.toString()
  return `${ctx.config.publicUrl}${path}${qs ? `?${qs}` : ''}`
}

export function auditEventRoutes(ctx: ModuleContext): RoutePlugin {
  return async function auditEvents(app) {
    const config = AUDIT_READ
    const tags = ['FHIR']
    const auditor = createAuditorService(ctx)

    app.get(
      '/AuditEvent',
      {
        config,
        schema: {
          tags,
          summary: 'Search AuditEvents (IHE Basic Audit Log Patterns), newest first',
          querystring: SearchQuery,
          response: { 200: Resource('Bundle') },
        },
      },
      async (request, reply) => {
        const q = request.query
        const { after, before } = dateBounds(q.date ?? [])
        const count = q._count ?? 50
        // A patient agent is a user: Patient/<id> searches by the patient's own user account.
        let agent = stripType(q.agent, 'Device', 'Practitioner')
        if (q.agent?.startsWith('Patient/')) {
          agent = (await auditor.userOfPatient(q.agent.slice('Patient/'.length))) ?? q.agent
        }
        const page = await auditor.search(
          {
            patient: stripType(q.patient, 'Patient'),
            agent,
            actionCode: q.action,
            outcomes: q.outcome ? OUTCOMES_OF_CODE[q.outcome] : undefined,
            after,
            before,
            limit: count,
            cursor: q._cursor,
          },
          '/querystring/_cursor',
        )
        const patientOfUser = await auditor.patientsOfUserAgents(page.entries)
        const params = new URLSearchParams()
        for (const [k, v] of Object.entries(q)) {
          if (k === '_cursor' || v === undefined) continue
          for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item))
        }
        const link = [
          {
            relation: 'self',
            url: selfUrl(
              ctx,
              request,
              q._cursor ? new URLSearchParams([...params, ['_cursor', q._cursor]]) : params,
            ),
          },
        ]
        if (page.next)
          link.push({
            relation: 'next',
            url: selfUrl(ctx, request, new URLSearchParams([...params, ['_cursor', page.next]])),
          })
        const base = selfUrl(ctx, request, new URLSearchParams())
        reply.type(FHIR_JSON)
        return {
          resourceType: 'Bundle',
          type: 'searchset',
          link,
          entry: page.entries.map((e) => ({
            fullUrl: `${base}/${e.id}`,
            resource: toAuditEvent(e, { publicUrl: ctx.config.publicUrl, patientOfUser }),
            search: { mode: 'match' },
          })),
        }
      },
    )

    app.get(
      '/AuditEvent/:id',
      {
        config,
        schema: {
          tags,
          summary: 'Read one AuditEvent',
          params: IdParam,
          response: { 200: Resource('AuditEvent') },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        const entry = await auditor.read(id, 'No AuditEvent with this id')
        ;(request as unknown as { auditResourceId: string }).auditResourceId = entry.id
        const patientOfUser = await auditor.patientsOfUserAgents([entry])
        reply.type(FHIR_JSON)
        return toAuditEvent(entry, { publicUrl: ctx.config.publicUrl, patientOfUser })
      },
    )
  }
}
