// SQL only: one patient's readings in a device-time range, oldest first, capped.
import type { Queryable } from '../../platform/db/index.ts'

export interface SummaryRow {
  readonly id: string
  readonly patientId: string
  readonly deviceId: string | null
  readonly code: string
  readonly effectiveAt: Date
  readonly valueSealed: string
}

export async function readingsInRange(
  q: Queryable,
  query: { patientId: string; from: Date; to: Date; codes?: readonly string[] | undefined; limit: number },
): Promise<SummaryRow[]> {
  const params: unknown[] = [query.patientId, query.from.toISOString(), query.to.toISOString(), query.limit]
  let codeFilter = ''
  if (query.codes) {
    params.push([...query.codes])
    codeFilter = ` AND code = ANY($${params.length}::text[])`
  }
  const { rows } = await q.query<{
    id: string
    patient_id: string
    device_id: string | null
    code: string
    effective_at: string | Date
    value_sealed: string
  }>(
    `SELECT id, patient_id, device_id, code, effective_at, value_sealed FROM published_readings
      WHERE patient_id = $1 AND effective_at >= $2 AND effective_at < $3${codeFilter}
      ORDER BY effective_at, id LIMIT $4`,
    params,
  )
  return rows.map((r) => ({
    id: r.id,
    patientId: r.patient_id,
    deviceId: r.device_id ?? null,
    code: r.code,
    effectiveAt: new Date(r.effective_at),
    valueSealed: r.value_sealed,
  }))
}
