// /api/v2/device-data/summary and /api/v2/device-data/glucose-profile (issue 15): what the console's
// charts draw — hour or day buckets of a patient's readings and the ambulatory glucose profile —
// computed on the server under `device-data.read`, decided for the one patient named (ADR-0008).

import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AppError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import { isTimeZone } from './aggregate.ts'
import { profileGlucose, summarise } from './service.ts'
import { targetRangeRoutes } from './target-ranges.routes.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

const Patient = Type.String({ format: 'uuid', description: "The patient; a patient's own token may omit it" })
const From = Type.String({
  format: 'date-time',
  description: 'Inclusive start (RFC 3339 with offset), device time',
})
const To = Type.String({
  format: 'date-time',
  description: 'Exclusive end (RFC 3339 with offset); at most 100 days after from',
})
const TimeZone = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_+/-]+$',
  default: 'UTC',
  description: "IANA time zone the buckets and times of day follow (the viewer's): Europe/Paris",
})
const Code = Type.String({
  minLength: 1,
  maxLength: 20,
  pattern: '^[0-9]+-[0-9]$',
  description: 'LOINC code',
})

const SummaryQuery = Type.Object(
  {
    patient: Type.Optional(Patient),
    from: From,
    to: To,
    bucket: Type.Union([Type.Literal('hour'), Type.Literal('day')], {
      description: 'Hours, or days of the time zone',
    }),
    code: Type.Optional(Code),
    timeZone: Type.Optional(TimeZone),
  },
  { additionalProperties: false },
)
const ProfileQuery = Type.Object(
  {
    patient: Type.Optional(Patient),
    from: From,
    to: To,
    code: Type.Optional(Code),
    timeZone: Type.Optional(TimeZone),
  },
  { additionalProperties: false },
)

const Stats = {
  count: Type.Integer({ minimum: 1 }),
  min: Type.Number(),
  max: Type.Number(),
  mean: Type.Number(),
  p5: Type.Number(),
  p25: Type.Number(),
  p50: Type.Number(),
  p75: Type.Number(),
  p95: Type.Number(),
}
const Target = Type.Object(
  {
    low: Type.Number(),
    high: Type.Number(),
    source: Type.Union([Type.Literal('patient'), Type.Literal('default')], {
      description: "'patient': set by the care team for this patient; 'default': the population default",
    }),
  },
  {
    description:
      "The target range for the chart and its out-of-range marks: the patient's own (GET /patients/{id}/target-ranges), else the population default; null when there is neither",
  },
)
const Summary = Type.Object({
  patientId: Type.String({ format: 'uuid' }),
  from: Type.String(),
  to: Type.String(),
  bucket: Type.String(),
  timeZone: Type.String(),
  series: Type.Array(
    Type.Object({
      code: Type.String(),
      display: Type.String(),
      unit: Type.String(),
      target: Type.Union([Target, Type.Null()]),
      buckets: Type.Array(
        Type.Object({ start: Type.String({ description: 'Start of the bucket, UTC' }), ...Stats }),
      ),
    }),
    {
      description:
        "One series per measurement code (a panel's components as their own codes); buckets without readings are left out",
    },
  ),
})
const Profile = Type.Object({
  patientId: Type.String({ format: 'uuid' }),
  code: Type.String(),
  unit: Type.Union([Type.Literal('mg/dL'), Type.Literal('mmol/L')]),
  from: Type.String(),
  to: Type.String(),
  timeZone: Type.String(),
  readings: Type.Integer(),
  daysWithData: Type.Integer(),
  mean: Type.Union([Type.Number(), Type.Null()]),
  gmi: Type.Union([Type.Number(), Type.Null()], { description: 'Glucose management indicator, %' }),
  cv: Type.Union([Type.Number(), Type.Null()], { description: 'Coefficient of variation, % (target ≤ 36)' }),
  thresholds: Type.Object(
    { veryLow: Type.Number(), low: Type.Number(), high: Type.Number(), veryHigh: Type.Number() },
    {
      description:
        "low and high are the patient's own glucose target when the care team set one (targetSource 'patient'), else 70-180 mg/dL (3.9-10.0 mmol/L)",
    },
  ),
  targetSource: Type.Union([Type.Literal('patient'), Type.Literal('default')]),
  timeInRanges: Type.Object(
    {
      veryLow: Type.Number(),
      low: Type.Number(),
      inRange: Type.Number(),
      high: Type.Number(),
      veryHigh: Type.Number(),
    },
    {
      description:
        'Fractions of readings: below 54 mg/dL (3.0 mmol/L); 54 to below low; low-high (by default 70-180, 3.9-10.0); above high to 250 (13.9); above 250',
    },
  ),
  profile: Type.Array(
    Type.Object({
      minute: Type.Integer({ description: 'Start of the 15-minute slot, minutes after local midnight' }),
      count: Type.Integer(),
      p5: Type.Number(),
      p25: Type.Number(),
      p50: Type.Number(),
      p75: Type.Number(),
      p95: Type.Number(),
    }),
  ),
})

/** The patient a summary is for: the one named, or the caller's own record; authorised before any reading is read. */
async function authorisedPatient(request: FastifyRequest, named: string | undefined): Promise<string> {
  const principal = request.principal as Principal
  const patientId = named ?? (principal.kind === 'user' ? (principal.patientId ?? undefined) : undefined)
  if (patientId === undefined)
    throw new AppError('VALIDATION_FAILED', 'Name the patient', {
      errors: [{ pointer: '/querystring/patient', detail: 'required unless the caller is the patient' }],
    })
  await request.authorize('device-data.read', { type: 'device-data', patientId })
  return patientId
}

function zoneOf(tz: string | undefined): string {
  const zone = tz ?? 'UTC'
  if (!isTimeZone(zone))
    throw new AppError('VALIDATION_FAILED', 'Unknown time zone', {
      errors: [{ pointer: '/querystring/timeZone', detail: 'an IANA time zone such as Europe/Paris' }],
    })
  return zone
}

export function readingSummaryRoutesV2(ctx: ModuleContext): RoutePlugin {
  const deps = { db: ctx.db, cipher: ctx.cipher }
  return async function readingSummaries(app) {
    await app.register(targetRangeRoutes(ctx))
    const tags = ['Device data']
    app.get(
      '/device-data/summary',
      {
        config: { policy: 'device-data.read' },
        schema: {
          tags,
          summary:
            "A patient's readings in hour or day buckets: count, min, max, mean and percentiles per measurement",
          description:
            'For charts over long ranges: a 90-day chart needs ~90 day buckets, not every reading. Device time; days follow timeZone.',
          querystring: SummaryQuery,
          response: {
            200: Summary,
            404: problem('No such patient, or not one the caller may read (concealed)'),
            422: problem('Too many readings in the range: choose a shorter one'),
          },
        },
      },
      async (request) => {
        const q = request.query
        const timeZone = zoneOf(q.timeZone)
        const patientId = await authorisedPatient(request, q.patient)
        const from = new Date(q.from)
        const to = new Date(q.to)
        const series = await summarise(deps, {
          patientId,
          from,
          to,
          timeZone,
          bucket: q.bucket,
          code: q.code,
        })
        return {
          patientId,
          from: from.toISOString(),
          to: to.toISOString(),
          bucket: q.bucket,
          timeZone,
          series,
        }
      },
    )

    app.get(
      '/device-data/glucose-profile',
      {
        config: { policy: 'device-data.read' },
        schema: {
          tags,
          summary:
            "A patient's ambulatory glucose profile: percentiles by time of day and time in ranges (international consensus on CGM metrics)",
          description:
            'Percentiles 5/25/50/75/95 of glucose in 15-minute slots of the day (timeZone), time below/in/above range, mean, GMI and CV. Code defaults to 2339-0.',
          querystring: ProfileQuery,
          response: {
            200: Profile,
            404: problem('No such patient, or not one the caller may read (concealed)'),
            422: problem('Too many readings in the range: choose a shorter one'),
          },
        },
      },
      async (request) => {
        const q = request.query
        const timeZone = zoneOf(q.timeZone)
        const patientId = await authorisedPatient(request, q.patient)
        const from = new Date(q.from)
        const to = new Date(q.to)
        const code = q.code ?? '2339-0'
        const p = await profileGlucose(deps, { patientId, from, to, timeZone, code })
        return {
          patientId,
          code,
          unit: p.unit,
          from: from.toISOString(),
          to: to.toISOString(),
          timeZone,
          readings: p.readings,
          daysWithData: p.daysWithData,
          mean: p.mean,
          gmi: p.gmi,
          cv: p.cv,
          thresholds: p.thresholds,
          targetSource: p.targetSource,
          timeInRanges: p.timeInRanges,
          profile: p.profile,
        }
      },
    )
  }
}
