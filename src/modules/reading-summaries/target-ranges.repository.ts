// A patient's own target ranges (ADR-0027): SQL only. The range itself is sealed by the caller.

import { createHash } from 'node:crypto'
import type { Queryable } from '../../platform/db/index.ts'

export interface TargetRangeRow {
  readonly id: string
  readonly code: string
  readonly rangeSealed: string
  readonly setBy: string
  readonly updatedAt: Date
}

export async function listTargetRanges(q: Queryable, patientId: string): Promise<TargetRangeRow[]> {
  const { rows } = await q.query<{
    id: string
    code: string
    range_sealed: string
    set_by: string
    updated_at: Date
  }>(
    'SELECT id, code, range_sealed, set_by, updated_at FROM patient_target_ranges WHERE patient_id = $1 ORDER BY code',
    [patientId],
  )
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    rangeSealed: r.range_sealed,
    setBy: r.set_by,
    updatedAt: new Date(r.updated_at),
  }))
}

/**
 * The row id of a patient's target for a code: derived from both (SHA-256, shaped as a UUID), so
 * the value can be sealed with its final id before the upsert, and two racing first writes meet on
 * the same primary key instead of failing on the unique pair.
 */
export function targetRangeId(patientId: string, code: string): string {
  const h = createHash('sha256')
    .update(`patient-target-range:${patientId.toLowerCase()}:${code}`)
    .digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export async function upsertTargetRange(
  q: Queryable,
  row: { id: string; patientId: string; code: string; rangeSealed: string; setBy: string },
  now: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO patient_target_ranges (id, patient_id, code, range_sealed, set_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz)
     ON CONFLICT (id) DO UPDATE SET range_sealed = EXCLUDED.range_sealed, set_by = EXCLUDED.set_by, updated_at = EXCLUDED.updated_at`,
    [row.id, row.patientId, row.code, row.rangeSealed, row.setBy, now.toISOString()],
  )
}

export async function deleteTargetRange(q: Queryable, patientId: string, code: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'DELETE FROM patient_target_ranges WHERE patient_id = $1 AND code = $2',
    [patientId, code],
  )
  return (rowCount ?? 0) > 0
}
