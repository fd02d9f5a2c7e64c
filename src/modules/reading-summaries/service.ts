// Reading summaries (issue 15): a patient's readings opened with their data key and reduced on the
// server, so a 90-day chart receives ~90 day buckets rather than ~26,000 readings. The caller has
// been authorised for `device-data.read` on this patient before anything here runs.

import type { Database } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { measurementRule, openReading } from '../device-data/index.ts'
import type { PatientCipher } from '../patients/index.ts'
import { bucketise, glucoseProfile, type Bucket, type GlucoseProfile, type Point } from './aggregate.ts'
import { readingsInRange } from './repository.ts'
import { ownTargets } from './target-ranges.service.ts'
import { GLUCOSE_CODES, targetRange, type TargetRange } from './target-ranges.ts'

/** Longest range one summary covers, and the most readings it opens. */
export const MAX_RANGE_DAYS = 100
export const MAX_READINGS = 200_000

export interface SummaryDeps {
  readonly db: Database
  readonly cipher: PatientCipher
}

export interface Range {
  readonly patientId: string
  readonly from: Date
  readonly to: Date
  readonly timeZone: string
}

export function checkRange(from: Date, to: Date): void {
  if (to.getTime() <= from.getTime())
    throw new AppError('VALIDATION_FAILED', 'The range is empty', {
      errors: [{ pointer: '/querystring/to', detail: 'must be after from' }],
    })
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
    throw new AppError('VALIDATION_FAILED', `A summary covers at most ${MAX_RANGE_DAYS} days`, {
      errors: [{ pointer: '/querystring/to', detail: `at most ${MAX_RANGE_DAYS} days after from` }],
    })
  }
}

/** Values by code: single measurements under their code, a panel's components under theirs. */
async function pointsByCode(
  deps: SummaryDeps,
  range: Range,
  codes?: readonly string[],
): Promise<Map<string, { unit: string; points: Point[] }>> {
  const rows = await readingsInRange(deps.db, {
    patientId: range.patientId,
    from: range.from,
    to: range.to,
    codes,
    limit: MAX_READINGS + 1,
  })
  if (rows.length > MAX_READINGS)
    throw new AppError(
      'UNPROCESSABLE',
      `More than ${MAX_READINGS} readings in this range: choose a shorter range`,
    )
  const out = new Map<string, { unit: string; points: Point[] }>()
  const add = (code: string, unit: string | undefined, at: Date, value: number) => {
    let s = out.get(code)
    if (!s) out.set(code, (s = { unit: unit ?? measurementRule(code)?.unit ?? '', points: [] }))
    s.points.push({ at, value })
  }
  for (const row of rows) {
    const content = await openReading(deps.cipher, row.patientId, row.id, row.valueSealed)
    if (typeof content.value === 'number') add(row.code, content.unit, row.effectiveAt, content.value)
    for (const c of content.components ?? []) add(c.code, c.unit, row.effectiveAt, c.value)
  }
  return out
}

export interface SeriesSummary {
  readonly code: string
  readonly display: string
  readonly unit: string
  /** The patient's own target (ADR-0027), else the population default; null when there is neither. */
  readonly target: (TargetRange & { readonly source: 'patient' | 'default' }) | null
  readonly buckets: ReturnType<typeof bucketise>
}

export async function summarise(
  deps: SummaryDeps,
  range: Range & { bucket: Bucket; code?: string | undefined },
): Promise<SeriesSummary[]> {
  checkRange(range.from, range.to)
  const byCode = await pointsByCode(deps, range, range.code !== undefined ? [range.code] : undefined)
  const own = await ownTargets(deps, range.patientId)
  const targetOf = (code: string): SeriesSummary['target'] => {
    const mine = own.get(code)
    if (mine) return { low: mine.low, high: mine.high, source: 'patient' }
    const d = targetRange(code)
    return d && { ...d, source: 'default' }
  }
  return [...byCode.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, s]) => ({
      code,
      display: measurementRule(code)?.display ?? code,
      unit: s.unit,
      target: targetOf(code),
      buckets: bucketise(s.points, range.bucket, range.timeZone),
    }))
}

export async function profileGlucose(
  deps: SummaryDeps,
  range: Range & { code: string },
): Promise<GlucoseProfile & { unit: 'mg/dL' | 'mmol/L'; targetSource: 'patient' | 'default' }> {
  checkRange(range.from, range.to)
  const unit = GLUCOSE_CODES[range.code]
  if (!unit)
    throw new AppError('VALIDATION_FAILED', 'The ambulatory glucose profile is for glucose codes only', {
      errors: [{ pointer: '/querystring/code', detail: `one of ${Object.keys(GLUCOSE_CODES).join(', ')}` }],
    })
  const byCode = await pointsByCode(deps, range, [range.code])
  const own = (await ownTargets(deps, range.patientId)).get(range.code)
  return {
    unit,
    targetSource: own ? 'patient' : 'default',
    ...glucoseProfile(byCode.get(range.code)?.points ?? [], unit, range.timeZone, own),
  }
}
