// /api/v2/patients/{id}/target-ranges (issue 15; ADR-0027): a patient's own target range per
// measurement. Whoever reads the patient's readings reads them (device-data.read); only a
// clinician of the patient's care team sets or clears one (target-ranges.write). A change and its
// audit entry commit together.

import { Type } from 'typebox'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { Principal } from '../../security/authn/index.ts'
import { noContent, type RoutePlugin } from '../../platform/http/typed-routes.ts'
import type { ModuleContext } from '../context.ts'
import { allTargets, clearTarget, setTarget } from './target-ranges.service.ts'
import { ADJUSTABLE } from './target-ranges.ts'

const PatientParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
const CodeParams = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    code: Type.Union(
      Object.keys(ADJUSTABLE).map((c) => Type.Literal(c)),
      { description: 'LOINC code of the measurement' },
    ),
  },
  { additionalProperties: false },
)
const SetBody = Type.Object(
  {
    low: Type.Number({ description: 'Lowest value in range, in the unit of the measurement' }),
    high: Type.Number({ description: 'Highest value in range; above low' }),
    unit: Type.String({
      minLength: 1,
      maxLength: 20,
      description:
        'The unit the measurement is stored in: mg/dL (2339-0, 41653-7), mmol/L (15074-8, 14743-9), mm[Hg] (8480-6, 8462-4), /min (8867-4)',
    }),
  },
  { additionalProperties: false, examples: [{ low: 80, high: 160, unit: 'mg/dL' }] },
)
const TargetView = Type.Object({
  code: Type.String(),
  label: Type.String(),
  unit: Type.String(),
  low: Type.Number(),
  high: Type.Number(),
  source: Type.Union([Type.Literal('patient'), Type.Literal('default')], {
    description:
      "'patient': set by the care team; 'default': the population default (glucose 70-180 mg/dL, international consensus)",
  }),
  setBy: Type.Union([Type.String(), Type.Null()], { description: "'user:<id>' of the clinician who set it" }),
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})

export function targetRangeRoutes(ctx: ModuleContext): RoutePlugin {
  const deps = { db: ctx.db, cipher: ctx.cipher }
  return async function targetRanges(app) {
    const tags = ['Device data']

    app.get(
      '/patients/:id/target-ranges',
      {
        config: { policy: 'device-data.read' },
        schema: {
          tags,
          operationId: 'listPatientTargetRanges',
          summary:
            "A patient's target range per measurement: the care team's own, else the population default",
          params: PatientParams,
          response: {
            200: Type.Object({ patientId: Type.String({ format: 'uuid' }), targets: Type.Array(TargetView) }),
            404: problem('No such patient, or not one the caller may read (concealed)'),
          },
        },
      },
      async (request) => {
        const { id } = request.params
        await request.authorize('device-data.read', { type: 'device-data', patientId: id })
        return { patientId: id, targets: await allTargets(deps, id) }
      },
    )

    app.put(
      '/patients/:id/target-ranges/:code',
      {
        config: { policy: 'target-ranges.write' },
        schema: {
          tags,
          operationId: 'setPatientTargetRange',
          summary:
            "Set a patient's target range for a measurement (a clinician of their care team): used by the charts' drawn range and out-of-range marks and by time in range",
          params: CodeParams,
          body: SetBody,
          response: {
            200: TargetView,
            400: problem(
              'low not below high, a value outside the sane bounds of the measurement, or the wrong unit',
            ),
            404: problem('No such patient, or not one whose care team the caller is in (concealed)'),
          },
        },
      },
      async (request) => {
        const { id, code } = request.params
        const body = request.body
        await request.authorize('target-ranges.write', { type: 'target-ranges', patientId: id })
        const principal = request.principal as Principal
        return setTarget(
          deps,
          {
            patientId: id,
            code,
            low: body.low,
            high: body.high,
            unit: body.unit,
            setBy: `${principal.kind}:${principal.id}`,
          },
          ctx.clock(),
          (tx, entry) => request.auditInTransaction(tx, entry),
        )
      },
    )

    app.delete(
      '/patients/:id/target-ranges/:code',
      {
        config: { policy: 'target-ranges.write' },
        schema: {
          tags,
          operationId: 'clearPatientTargetRange',
          summary:
            "Clear a patient's own target range for a measurement: the population default applies again",
          params: CodeParams,
          response: {
            204: Type.Null({ description: 'The default applies (also when none was set)' }),
            404: problem('No such patient, or not one whose care team the caller is in (concealed)'),
          },
        },
      },
      async (request, reply) => {
        const { id, code } = request.params
        await request.authorize('target-ranges.write', { type: 'target-ranges', patientId: id })
        await clearTarget(deps, id, code, (tx, entry) => request.auditInTransaction(tx, entry))
        return noContent(reply)
      },
    )
  }
}
