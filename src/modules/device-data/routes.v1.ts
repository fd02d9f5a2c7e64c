// /api/v1/device-data — the first contract, as the first app and firmware versions send it: one
// reading per request, a simple measurement type, value, unit and time. Still served, deprecated
// (Deprecation, Sunset and Link headers; OpenAPI `deprecated`) until API_V1_SUNSET. Each reading
// is translated to its LOINC code and UCUM unit and stored exactly as a v2 reading (ADR-0010).

import { Type, type Static } from 'typebox'
import { AppError, type ProblemFieldError } from '../../platform/http/errors.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import type { DeviceRateLimiter } from './device-rate-limit.ts'
import { requestHash, type Ingest, type IngestResult } from './ingest.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import { IdempotencyHeaders } from './schema.v2.ts'
import { RFC3339_WITH_OFFSET, validateReading, type ReadingInput } from './validate-reading.ts'
import { authorizeWriter } from './writer.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

/** When v1 was declared deprecated: the day v2 shipped. */
export const V1_DEPRECATED_SINCE = '2026-11-01'

const V1_TYPES = ['glucose', 'heart-rate', 'blood-pressure', 'spo2', 'weight', 'temperature'] as const
type V1Type = (typeof V1_TYPES)[number]

const CODES: Record<V1Type, string> = {
  glucose: '2339-0',
  'heart-rate': '8867-4',
  'blood-pressure': '85354-9',
  spo2: '59408-5',
  weight: '29463-7',
  temperature: '8310-5',
}

// The unit spellings first-generation firmware sends, to UCUM.
const UNITS: Record<string, string> = {
  'mg/dl': 'mg/dL',
  'mmol/l': 'mmol/L',
  bpm: '/min',
  '/min': '/min',
  mmhg: 'mm[Hg]',
  'mm[hg]': 'mm[Hg]',
  '%': '%',
  kg: 'kg',
  lb: '[lb_av]',
  lbs: '[lb_av]',
  c: 'Cel',
  cel: 'Cel',
  f: '[degF]',
  '[degf]': '[degF]',
}

const PostReading = Type.Object(
  {
    type: Type.Union(V1_TYPES.map((t) => Type.Literal(t))),
    value: Type.Optional(
      Type.Number({ description: 'The value; for blood-pressure use systolic and diastolic' }),
    ),
    systolic: Type.Optional(Type.Number()),
    diastolic: Type.Optional(Type.Number()),
    unit: Type.String({
      minLength: 1,
      maxLength: 16,
      description: 'mg/dL, mmol/L, bpm, mmHg, %, kg, lb, C, F (or the UCUM spelling)',
    }),
    time: Type.String({
      pattern: RFC3339_WITH_OFFSET,
      description: "The device's time, RFC 3339 with its UTC offset",
    }),
  },
  {
    additionalProperties: false,
    examples: [
      { type: 'glucose', value: 5.8, unit: 'mmol/L', time: '2026-11-22T07:30:00+01:00' },
      {
        type: 'blood-pressure',
        systolic: 121,
        diastolic: 79,
        unit: 'mmHg',
        time: '2026-11-22T07:31:00+01:00',
      },
    ],
  },
)
type PostReading = Static<typeof PostReading>

const Created = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('created'), Type.Literal('duplicate')]),
})

function toReadingInput(body: PostReading): ReadingInput {
  const code = CODES[body.type]
  const unit = UNITS[body.unit.toLowerCase()] ?? body.unit
  if (body.type === 'blood-pressure') {
    return {
      code,
      components: [
        { code: '8480-6', value: body.systolic as number, unit },
        { code: '8462-4', value: body.diastolic as number, unit },
      ],
      effectiveDateTime: body.time,
    }
  }
  // Glucose in mmol/L is the moles/volume code, as v1 clients mean it.
  return {
    code: body.type === 'glucose' && unit === 'mmol/L' ? '15074-8' : code,
    value: body.value,
    unit,
    effectiveDateTime: body.time,
  }
}

function presentV1(result: IngestResult): { status: number; body: unknown } {
  const r = result.results[0]
  if (!r || r.outcome === 'rejected') throw new AppError('READING_ALREADY_STORED')
  return r.outcome === 'created'
    ? { status: 201, body: { id: r.id, status: 'created' } }
    : { status: 200, body: { id: r.id, status: 'duplicate' } }
}

export function deviceDataV1Plugin(
  ctx: ModuleContext,
  deps: { ingest: Ingest; limiter: DeviceRateLimiter },
): RoutePlugin {
  return async function deviceDataV1(app) {
    app.post(
      '/device-data',
      {
        config: {
          policy: 'device-data.write',
          deprecation: {
            since: V1_DEPRECATED_SINCE,
            sunset: ctx.config.deviceData.v1Sunset,
            successor: '/api/v2/device-data',
          },
        },
        schema: {
          tags: ['Device data'],
          summary: 'Send one reading (first contract)',
          headers: IdempotencyHeaders,
          body: PostReading,
          response: {
            200: Created,
            201: Created,
            404: problem('The patient is not one this caller may write for (concealed)'),
            409: problem(
              'The device is not bound, or a different reading of this type at this time is stored',
            ),
            422: problem('The Idempotency-Key was already used for a different request'),
            429: problem('Too many requests from this device, or its daily quota is used (Retry-After)'),
          },
        },
      },
      async (request, reply) => {
        const body = request.body
        const principal = request.principal as Principal
        if (principal.kind === 'device') await deps.limiter.check(principal.id)
        const writer = await authorizeWriter(request, undefined)
        const errors: ProblemFieldError[] = []
        const bp = body.type === 'blood-pressure'
        if (bp && (body.systolic === undefined || body.diastolic === undefined || body.value !== undefined))
          errors.push({ pointer: '/body', detail: 'blood-pressure takes systolic and diastolic, not value' })
        if (!bp && (body.value === undefined || body.systolic !== undefined || body.diastolic !== undefined))
          errors.push({ pointer: '/body/value', detail: `${body.type} takes value` })
        const valid =
          errors.length === 0
            ? validateReading(toReadingInput(body), '/body', ctx.clock(), errors)
            : undefined
        if (!valid || errors.length > 0) {
          // v2 pointers name the reading's parts (code, components); v1 callers know type and unit.
          throw new AppError('VALIDATION_FAILED', 'The reading is not valid; nothing was stored', {
            errors: errors.map((e) => ({
              pointer:
                e.pointer
                  .replace(/\/(code|components(\/\d+)?)(?=\/|$)/, '')
                  .replace('/effectiveDateTime', '/time') || '/body',
              detail: e.detail,
            })),
          })
        }
        const key = request.headers['idempotency-key']
        const answer = await deps.ingest({
          principal: writer.principalKey,
          patientId: writer.patientId,
          deviceId: writer.deviceId,
          source: 'v1',
          readings: [valid],
          idempotency:
            typeof key === 'string'
              ? { key, requestHash: requestHash('POST /api/v1/device-data', writer.patientId, body) }
              : undefined,
          present: presentV1,
          auditEntry: (status) =>
            request.auditEntry({ status, resourceType: 'device-data', patientId: writer.patientId }),
          audited: () => {
            request.auditWritten = true
          },
        })
        if (answer.replayed) {
          reply.header('idempotent-replayed', 'true')
          // A replay stored nothing: if this request lost an Idempotency-Key race, the entry it wrote
          // rolled back with its transaction, so its entry is written after the response as usual.
          request.auditWritten = false
        }
        // The body this route presented, or the one stored with the Idempotency-Key for a replay.
        return reply.code(answer.status as 200).send(answer.body as Static<typeof Created>)
      },
    )
  }
}
