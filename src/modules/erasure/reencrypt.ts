// The re-encryption job (`vigil keys reencrypt`, ADR-0009): moves every sealed PHI value off a
// patient's older data-key versions onto their current one, then destroys the old versions.
//
// Resumable and idempotent: each batch is its own transaction (rows taken FOR UPDATE SKIP LOCKED,
// re-sealed, written back with a compare on the old ciphertext), so a `kill -9` loses at most one
// uncommitted batch, and a rerun picks up exactly the values still under an old version. Readers
// never fail in between: an old version is destroyed only when nothing is sealed under it any
// more, a grace period has passed since the last value moved (a reader may hold an old ciphertext
// it read just before the move) and the same grace has passed since the version was superseded
// (another instance may hold the old "current" key in its data-key cache for up to
// DATA_KEY_CACHE_MS and seal with it, even when the job found nothing to move).

import { setTimeout as sleep } from 'node:timers/promises'
import type { Database, Queryable } from '../../platform/db/index.ts'
import { DATA_KEY_CACHE_MS, type DataKeyStore, type PatientCipher } from '../patients/index.ts'
import { readingAad } from '../device-data/index.ts'
import * as repo from './repository.ts'
import type { SealedColumn } from './repository.ts'

export type { SealedColumn } from './repository.ts'

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'patients', column: 'demographics_sealed', patient: 'id', aad: () => 'patient-demographics' },
  { table: 'readings', column: 'value_sealed', patient: 'patient_id', aad: readingAad },
  {
    table: 'diagnostic_reports',
    column: 'conclusion_sealed',
    patient: 'patient_id',
    aad: (id) => `diagnostic-report:${id}`,
  },
  {
    table: 'patient_target_ranges',
    column: 'range_sealed',
    patient: 'patient_id',
    aad: (id) => `target-range:${id}`,
  },
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

export async function reencrypt(
  deps: { db: Database; dataKeys: DataKeyStore; cipher: PatientCipher },
  options: ReencryptOptions = {},
): Promise<ReencryptReport> {
  const { db, dataKeys, cipher } = deps
  const batchSize = options.batchSize ?? 200
  const graceMs = options.retireGraceMs ?? DATA_KEY_CACHE_MS + 5_000
  let newDataKeys = 0
  let reencrypted = 0
  let retired = 0

  if (options.newDataKeys) {
    let after = '00000000-0000-0000-0000-000000000000'
    for (;;) {
      const ids = await repo.activePatientIdsAfter(db, after, batchSize)
      if (ids.length === 0) break
      for (const id of ids) {
        if ((await dataKeys.olderVersions(id)).length > 0) continue
        await dataKeys.addVersion(id)
        newDataKeys++
      }
      after = ids.at(-1) as string
    }
  }

  /** One batch of one column, committed on its own; returns [moved, failed ids]. */
  async function batch(
    c: SealedColumn,
    skip: readonly string[],
  ): Promise<{ moved: number; failed: string[]; seen: number }> {
    return db.transaction(async (tx: Queryable) => {
      const rows = await repo.lockValuesUnderOldVersions(tx, c, batchSize, skip)
      let moved = 0
      const failed: string[] = []
      // Another process may have added a version since this one cached the patient's current key.
      for (const patientId of new Set(rows.map((r) => r.patientId))) dataKeys.forget(patientId)
      for (const row of rows) {
        let plain: string
        try {
          plain = await cipher.open(row.patientId, row.value, c.aad(row.id), tx)
        } catch {
          failed.push(row.id)
          continue
        }
        const sealed = await cipher.seal(row.patientId, plain, c.aad(row.id), tx)
        moved += await repo.replaceSealedValue(tx, c, row.id, row.value, sealed)
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
      n += await repo.countValuesUnderVersion(db, c, patientId, version)
    }
    return n
  }

  let failedCount = 0
  for (let round = 0; round < 10; round++) {
    const pass = await movePass()
    reencrypted += pass.moved
    failedCount = pass.failed.length
    if (pass.moved > 0 && graceMs > 0) await sleep(graceMs)
    // Destroy the versions nothing is sealed under any more — but only once the grace has passed
    // since the version was superseded (database clock): until then a writer whose cached
    // "current" key is the old version may still seal a value under it, even when this pass moved
    // nothing. A value written so keeps its version alive: it is moved in the next round.
    let pending = 0
    let youngest = 0
    for (const { patientId, version, supersededMsAgo } of await repo.olderLiveDataKeyVersions(db)) {
      if (supersededMsAgo < graceMs) {
        pending++
        youngest = Math.max(youngest, graceMs - supersededMsAgo)
        continue
      }
      if ((await remainingUnder(patientId, version)) > 0) {
        pending++
        continue
      }
      await dataKeys.retireVersion(patientId, version)
      retired++
    }
    if (pending === 0 || (youngest === 0 && pending <= failedCount)) break
    // Versions superseded too recently: wait them out, then move what was written meanwhile.
    if (youngest > 0) await sleep(youngest + 50)
  }
  return { newDataKeys, reencrypted, retired, failed: failedCount }
}
