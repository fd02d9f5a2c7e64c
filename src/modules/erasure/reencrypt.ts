// The re-encryption job (`vigil keys reencrypt`, ADR-0009): moves every sealed PHI value off a
// patient's older data-key versions onto their current one, then destroys the old versions.
//
// Resumable and idempotent: each batch is its own transaction (rows taken FOR UPDATE SKIP LOCKED,
// re-sealed, written back with a compare on the old ciphertext), so a `kill -9` loses at most one
// uncommitted batch, and a rerun picks up exactly the values still under an old version. Readers
// never fail in between: an old version is destroyed only when nothing is sealed under it any
// more and a grace period has passed since the last value moved (a reader may hold an old
// ciphertext it read just before the move; another instance may hold the old "current" key in its
// data-key cache for up to DATA_KEY_CACHE_MS).

import { setTimeout as sleep } from 'node:timers/promises'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { DATA_KEY_CACHE_MS, type DataKeyStore, type PatientCipher } from '../patients/index.ts'
import { readingAad } from '../device-data/index.ts'

/** Every column holding PHI sealed with a patient's data key, with how to find its patient and aad. */
export interface SealedColumn {
  readonly table: string
  readonly column: string
  /** SQL expression of the row's patient id. */
  readonly patient: string
  /** The aad the value was sealed with (the cipher adds the patient id), from the row's id. */
  readonly aad: (rowId: string) => string
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'patients', column: 'demographics_sealed', patient: 'id', aad: () => 'patient-demographics' },
  { table: 'readings', column: 'value_sealed', patient: 'patient_id', aad: readingAad },
  { table: 'diagnostic_reports', column: 'conclusion_sealed', patient: 'patient_id', aad: (id) => `diagnostic-report:${id}` },
]

export interface ReencryptOptions {
  readonly batchSize?: number
  /** Give each (not erased) patient a new data-key version first — unless an earlier, interrupted
   * run already did (the patient still has older live versions): so a rerun does not add another. */
  readonly newDataKeys?: boolean
  /** Wait this long after the last moved value before destroying old versions. */
  readonly retireGraceMs?: number
  /** Called after each committed batch (progress; tests). */
  readonly onBatch?: (moved: number) => void
}

export interface ReencryptReport {
  readonly newDataKeys: number
  readonly reencrypted: number
  readonly retired: number
  /** Values that could not be opened (left in place, reported; never silently dropped). */
  readonly failed: number
}

// The version is the second dot-separated field of "e1.<version>.<iv>.<ct>.<tag>"; the live
// maximum per patient is the current data key.
const underOldVersion = (c: SealedColumn, alias: string) =>
  `${alias}.${c.column} IS NOT NULL AND split_part(${alias}.${c.column}, '.', 2)::int <
     (SELECT max(k.version) FROM patient_data_keys k WHERE k.patient_id = ${alias}.${c.patient} AND k.wrapped_key IS NOT NULL)`

export async function reencrypt(deps: { db: Database; dataKeys: DataKeyStore; cipher: PatientCipher }, options: ReencryptOptions = {}): Promise<ReencryptReport> {
  const { db, dataKeys, cipher } = deps
  const batchSize = options.batchSize ?? 200
  const graceMs = options.retireGraceMs ?? DATA_KEY_CACHE_MS + 5_000
  let newDataKeys = 0
  let reencrypted = 0
  let retired = 0

  if (options.newDataKeys) {
    let after = '00000000-0000-0000-0000-000000000000'
    for (;;) {
      const { rows } = await db.query<{ id: string }>('SELECT id FROM patients WHERE erased_at IS NULL AND id > $1 ORDER BY id LIMIT $2', [after, batchSize])
      if (rows.length === 0) break
      for (const { id } of rows) {
        if ((await dataKeys.olderVersions(id)).length > 0) continue
        await dataKeys.addVersion(id)
        newDataKeys++
      }
      after = (rows.at(-1) as { id: string }).id
    }
  }

  /** One batch of one column, committed on its own; returns [moved, failed ids]. */
  async function batch(c: SealedColumn, skip: readonly string[]): Promise<{ moved: number; failed: string[]; seen: number }> {
    return db.transaction(async (tx: Queryable) => {
      const { rows } = await tx.query<{ id: string; patient_id: string; value: string }>(
        `SELECT r.id, r.${c.patient} AS patient_id, r.${c.column} AS value FROM ${c.table} r
           JOIN patients p ON p.id = r.${c.patient} AND p.erased_at IS NULL
          WHERE ${underOldVersion(c, 'r')} AND NOT (r.id = ANY($2::uuid[]))
          ORDER BY r.id LIMIT $1 FOR UPDATE OF r SKIP LOCKED`,
        [batchSize, skip],
      )
      let moved = 0
      const failed: string[] = []
      // Another process may have added a version since this one cached the patient's current key.
      for (const patientId of new Set(rows.map((r) => r.patient_id))) dataKeys.forget(patientId)
      for (const row of rows) {
        let plain: string
        try {
          plain = await cipher.open(row.patient_id, row.value, c.aad(row.id), tx)
        } catch {
          failed.push(row.id)
          continue
        }
        const sealed = await cipher.seal(row.patient_id, plain, c.aad(row.id), tx)
        const updated = await tx.query(`UPDATE ${c.table} SET ${c.column} = $1 WHERE id = $2 AND ${c.column} = $3`, [sealed, row.id, row.value])
        moved += updated.rowCount
      }
      return { moved, failed, seen: rows.length }
    })
  }

  async function movePass(): Promise<{ moved: number; failed: string[] }> {
    let moved = 0
    const failed: string[] = []
    for (const c of SEALED_COLUMNS) {
      for (;;) {
        const r = await batch(c, failed)
        moved += r.moved
        failed.push(...r.failed)
        if (r.moved > 0) options.onBatch?.(r.moved)
        if (r.seen === 0) break
      }
    }
    return { moved, failed }
  }

  async function remainingUnder(patientId: string, version: number): Promise<number> {
    let n = 0
    for (const c of SEALED_COLUMNS) {
      const { rows } = await db.query<{ n: number | string }>(
        `SELECT count(*) AS n FROM ${c.table} WHERE ${c.patient} = $1 AND ${c.column} IS NOT NULL AND split_part(${c.column}, '.', 2)::int = $2`,
        [patientId, version],
      )
      n += Number(rows[0]?.n ?? 0)
    }
    return n
  }

  let failedCount = 0
  for (let round = 0; round < 10; round++) {
    const pass = await movePass()
    reencrypted += pass.moved
    failedCount = pass.failed.length
    if (pass.moved > 0 && graceMs > 0) await sleep(graceMs)
    // Destroy the versions nothing is sealed under any more; a value written under an old version
    // by a writer with a stale cache after the pass keeps its version alive for the next round.
    const { rows } = await db.query<{ patient_id: string; version: number }>(
      `SELECT k.patient_id, k.version FROM patient_data_keys k JOIN patients p ON p.id = k.patient_id AND p.erased_at IS NULL
        WHERE k.wrapped_key IS NOT NULL AND k.version < (SELECT max(m.version) FROM patient_data_keys m WHERE m.patient_id = k.patient_id)
        ORDER BY k.patient_id, k.version`,
    )
    let pending = 0
    for (const row of rows) {
      const version = Number(row.version)
      if ((await remainingUnder(row.patient_id, version)) > 0) {
        pending++
        continue
      }
      await dataKeys.retireVersion(row.patient_id, version)
      retired++
    }
    if (pending === 0 || pending <= failedCount) break
  }
  return { newDataKeys, reencrypted, retired, failed: failedCount }
}
