// SQL of the data lifecycle (issue 7): the re-encryption job's passes over every sealed PHI column
// and the retention run's counts and deletions. Both reach across tables by nature (they act on
// every data class), so their SQL is kept here in one place rather than in each owner.

import type { Queryable } from '../../platform/db/index.ts'

/** Every column holding PHI sealed with a patient's data key, with how to find its patient and aad. */
export interface SealedColumn {
  readonly table: string
  readonly column: string
  /** SQL expression of the row's patient id. */
  readonly patient: string
  /** The aad the value was sealed with (the cipher adds the patient id), from the row's id. */
  readonly aad: (rowId: string) => string
}

export interface SealedValue {
  readonly id: string
  readonly patientId: string
  readonly value: string
}

/** One page (keyset on id) of the ids of patients not erased. */
export async function activePatientIdsAfter(q: Queryable, after: string, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    'SELECT id FROM published_patients WHERE erased_at IS NULL AND id > $1 ORDER BY id LIMIT $2',
    [after, limit],
  )
  return rows.map((r) => r.id)
}

// The version is the second dot-separated field of "e1.<version>.<iv>.<ct>.<tag>"; the live
// maximum per patient is the current data key.
const underOldVersion = (c: SealedColumn, alias: string) =>
  `${alias}.${c.column} IS NOT NULL AND split_part(${alias}.${c.column}, '.', 2)::int <
     (SELECT max(k.version) FROM published_patient_data_keys k WHERE k.patient_id = ${alias}.${c.patient} AND k.live)`

/** Up to `limit` values of the column still under an older data-key version of a patient not erased, locked (SKIP LOCKED), skipping `skip`. */
export async function lockValuesUnderOldVersions(
  q: Queryable,
  c: SealedColumn,
  limit: number,
  skip: readonly string[],
): Promise<SealedValue[]> {
  const { rows } = await q.query<{ id: string; patient_id: string; value: string }>(
    `SELECT r.id, r.${c.patient} AS patient_id, r.${c.column} AS value FROM ${c.table} r
       JOIN published_patients p ON p.id = r.${c.patient} AND p.erased_at IS NULL
      WHERE ${underOldVersion(c, 'r')} AND NOT (r.id = ANY($2::uuid[]))
      ORDER BY r.id LIMIT $1 FOR UPDATE OF r SKIP LOCKED`,
    [limit, skip],
  )
  return rows.map((r) => ({ id: r.id, patientId: r.patient_id, value: r.value }))
}

/** Writes the re-sealed value only if the row still holds the old one; the number of rows changed. */
export async function replaceSealedValue(
  q: Queryable,
  c: SealedColumn,
  id: string,
  oldValue: string,
  sealed: string,
): Promise<number> {
  const updated = await q.query(`UPDATE ${c.table} SET ${c.column} = $1 WHERE id = $2 AND ${c.column} = $3`, [
    sealed,
    id,
    oldValue,
  ])
  return updated.rowCount
}

/** How many values of the column are sealed under this data-key version of the patient. */
export async function countValuesUnderVersion(
  q: Queryable,
  c: SealedColumn,
  patientId: string,
  version: number,
): Promise<number> {
  const { rows } = await q.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM ${c.table} WHERE ${c.patient} = $1 AND ${c.column} IS NOT NULL AND split_part(${c.column}, '.', 2)::int = $2`,
    [patientId, version],
  )
  return Number(rows[0]?.n ?? 0)
}

/** Live data-key versions older than their patient's current one (patients not erased), each with
 *  how long ago (database clock, ms) the next version superseded it: until a writer's cached
 *  "current" key has expired, a value may still be sealed under the old version. */
export async function olderLiveDataKeyVersions(
  q: Queryable,
): Promise<{ patientId: string; version: number; supersededMsAgo: number }[]> {
  const { rows } = await q.query<{ patient_id: string; version: number; superseded_ms_ago: number | string }>(
    `SELECT k.patient_id, k.version,
            floor(extract(epoch FROM (now() - (SELECT min(n.created_at) FROM published_patient_data_keys n
              WHERE n.patient_id = k.patient_id AND n.version > k.version))) * 1000) AS superseded_ms_ago
       FROM published_patient_data_keys k JOIN published_patients p ON p.id = k.patient_id AND p.erased_at IS NULL
      WHERE k.live AND k.version < (SELECT max(m.version) FROM published_patient_data_keys m WHERE m.patient_id = k.patient_id)
      ORDER BY k.patient_id, k.version`,
  )
  return rows.map((r) => ({
    patientId: r.patient_id,
    version: Number(r.version),
    supersededMsAgo: Number(r.superseded_ms_ago),
  }))
}

/** Retention: rows of `table` matching `where` over the cutoff $1, counted or deleted. */
export async function countRows(q: Queryable, table: string, where: string, cutoff: string): Promise<number> {
  const { rows } = await q.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM ${table} WHERE ${where}`,
    [cutoff],
  )
  return Number(rows[0]?.n ?? 0)
}

export async function deleteRows(
  q: Queryable,
  table: string,
  where: string,
  cutoff: string,
): Promise<number> {
  return (await q.query(`DELETE FROM ${table} WHERE ${where}`, [cutoff])).rowCount
}
