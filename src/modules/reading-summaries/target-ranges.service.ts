// A patient's target ranges (issue 15; ADR-0027): the care team's own target for a measurement,
// or the population default when none is set. Values are sealed with the patient's data key. The
// caller has been authorised (target-ranges.write to change, device-data.read to read) first.

import type { Database, Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { PatientCipher } from '../patients/index.ts'
import {
  deleteTargetRange,
  listTargetRanges,
  targetRangeId,
  upsertTargetRange,
} from './target-ranges.repository.ts'
import { ADJUSTABLE, targetProblems, targetRange } from './target-ranges.ts'

export interface PatientTarget {
  readonly code: string
  readonly label: string
  readonly unit: string
  readonly low: number
  readonly high: number
  /** 'patient': set by the care team for this patient; 'default': the population default. */
  readonly source: 'patient' | 'default'
  readonly setBy: string | null
  readonly updatedAt: string | null
}

interface Deps {
  readonly db: Database
  readonly cipher: PatientCipher
}

const aad = (id: string) => `target-range:${id}`

/** The patient's own targets, by code (only those the care team set). */
export async function ownTargets(
  deps: Deps,
  patientId: string,
  q: Queryable = deps.db,
): Promise<Map<string, PatientTarget>> {
  const out = new Map<string, PatientTarget>()
  for (const row of await listTargetRanges(q, patientId)) {
    const rule = ADJUSTABLE[row.code]
    if (!rule) continue
    const r = JSON.parse(await deps.cipher.open(patientId, row.rangeSealed, aad(row.id), q)) as {
      low: number
      high: number
      unit: string
    }
    out.set(row.code, {
      code: row.code,
      label: rule.label,
      unit: r.unit,
      low: r.low,
      high: r.high,
      source: 'patient',
      setBy: row.setBy,
      updatedAt: row.updatedAt.toISOString(),
    })
  }
  return out
}

/** Every adjustable measurement's target for the patient: their own, or the default. */
export async function allTargets(deps: Deps, patientId: string): Promise<PatientTarget[]> {
  const own = await ownTargets(deps, patientId)
  return Object.entries(ADJUSTABLE).map(([code, rule]) => {
    const mine = own.get(code)
    if (mine) return mine
    const d = targetRange(code) as { low: number; high: number }
    return {
      code,
      label: rule.label,
      unit: rule.unit,
      low: d.low,
      high: d.high,
      source: 'default' as const,
      setBy: null,
      updatedAt: null,
    }
  })
}

/** Writes the request's audit entry inside the use case's transaction (request.auditInTransaction). */
export type AuditTargetChange = (
  tx: Queryable,
  entry: { status: number; resourceType: string; resourceId: string },
) => Promise<void>

/** Sets the patient's target for a code, audited in the same transaction. */
export async function setTarget(
  deps: Deps,
  input: { patientId: string; code: string; low: number; high: number; unit: string; setBy: string },
  now: Date,
  audit: AuditTargetChange,
): Promise<PatientTarget> {
  const problems = targetProblems(input.code, input)
  if (problems.length > 0)
    throw new AppError(
      'VALIDATION_FAILED',
      `The target range is not acceptable: ${problems.map((p) => `${p.pointer.split('/').pop() ?? ''} ${p.detail}`).join('; ')}`,
      { errors: problems },
    )
  const rule = ADJUSTABLE[input.code] as (typeof ADJUSTABLE)[string]
  const id = targetRangeId(input.patientId, input.code)
  await deps.db.transaction(async (tx) => {
    const sealed = await deps.cipher.seal(
      input.patientId,
      JSON.stringify({ low: input.low, high: input.high, unit: input.unit }),
      aad(id),
      tx,
    )
    await upsertTargetRange(
      tx,
      { id, patientId: input.patientId, code: input.code, rangeSealed: sealed, setBy: input.setBy },
      now,
    )
    await audit(tx, { status: 200, resourceType: 'target-range', resourceId: input.code })
  })
  return {
    code: input.code,
    label: rule.label,
    unit: input.unit,
    low: input.low,
    high: input.high,
    source: 'patient',
    setBy: input.setBy,
    updatedAt: now.toISOString(),
  }
}

/** Back to the default, audited in the same transaction; false when the patient had no target of their own for the code. */
export async function clearTarget(
  deps: Deps,
  patientId: string,
  code: string,
  audit: AuditTargetChange,
): Promise<boolean> {
  if (!ADJUSTABLE[code])
    throw new AppError('VALIDATION_FAILED', 'Not a measurement with an adjustable target', {
      errors: [{ pointer: '/params/code', detail: `one of ${Object.keys(ADJUSTABLE).join(', ')}` }],
    })
  return deps.db.transaction(async (tx) => {
    const cleared = await deleteTargetRange(tx, patientId, code)
    await audit(tx, { status: 204, resourceType: 'target-range', resourceId: code })
    return cleared
  })
}
