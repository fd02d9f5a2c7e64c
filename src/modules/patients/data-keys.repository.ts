// The key tables of per-patient envelope encryption (ADR-0003, ADR-0009): kek_versions (each
// key-encryption key sealed under the root keyring) and patient_data_keys (each data key wrapped
// under a KEK). SQL only (ADR-0030): what is sealed, unwrapped or cached is data-keys.ts's
// business; no plaintext key reaches this file.

import type { Queryable } from '../../platform/db/index.ts'

export interface SealedKek {
  readonly version: number
  readonly sealedKey: string
}

export interface WrappedKeyRow {
  readonly version: number
  readonly kek_version: number | null
  readonly wrapped_key: string | null
}

export async function sealedKeks(q: Queryable): Promise<SealedKek[]> {
  const { rows } = await q.query<{ version: number; sealed_key: string }>(
    'SELECT version, sealed_key FROM kek_versions ORDER BY version',
  )
  return rows.map((r) => ({ version: Number(r.version), sealedKey: r.sealed_key }))
}

/** Adds a KEK version unless another process added the same version first. */
export async function insertKek(q: Queryable, version: number, sealedKey: string): Promise<void> {
  await q.query(
    'INSERT INTO kek_versions (version, sealed_key) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING',
    [version, sealedKey],
  )
}

/** Compare-and-set on the old sealed value: a concurrent re-seal wins cleanly. Rows changed. */
export async function resealKek(
  q: Queryable,
  version: number,
  sealedKey: string,
  previous: string,
): Promise<number> {
  const updated = await q.query(
    'UPDATE kek_versions SET sealed_key = $1 WHERE version = $2 AND sealed_key = $3',
    [sealedKey, version, previous],
  )
  return updated.rowCount
}

/** Adds a data-key version unless another process added the same version first: false then, nothing written. */
export async function insertDataKey(
  q: Queryable,
  patientId: string,
  version: number,
  kekVersion: number,
  wrappedKey: string,
): Promise<boolean> {
  const { rowCount } = await q.query(
    'INSERT INTO patient_data_keys (patient_id, version, kek_version, wrapped_key) VALUES ($1, $2, $3, $4) ON CONFLICT (patient_id, version) DO NOTHING',
    [patientId, version, kekVersion, wrappedKey],
  )
  return rowCount === 1
}

/** The patient's newest data-key version (destroyed or not), if they have any. */
export async function newestDataKey(q: Queryable, patientId: string): Promise<WrappedKeyRow | undefined> {
  const { rows } = await q.query<WrappedKeyRow>(
    'SELECT version, kek_version, wrapped_key FROM patient_data_keys WHERE patient_id = $1 ORDER BY version DESC LIMIT 1',
    [patientId],
  )
  return rows[0]
}

export async function dataKeyVersion(
  q: Queryable,
  patientId: string,
  version: number,
): Promise<WrappedKeyRow | undefined> {
  const { rows } = await q.query<WrappedKeyRow>(
    'SELECT version, kek_version, wrapped_key FROM patient_data_keys WHERE patient_id = $1 AND version = $2',
    [patientId, version],
  )
  return rows[0]
}

/** Live data keys wrapped under a KEK older than `kekVersion`, a batch at a time. */
export async function dataKeysUnderOlderKek(
  q: Queryable,
  kekVersion: number,
  limit: number,
): Promise<(WrappedKeyRow & { patient_id: string })[]> {
  const { rows } = await q.query<WrappedKeyRow & { patient_id: string }>(
    'SELECT patient_id, version, kek_version, wrapped_key FROM patient_data_keys WHERE wrapped_key IS NOT NULL AND kek_version < $1 ORDER BY patient_id, version LIMIT $2',
    [kekVersion, limit],
  )
  return rows
}

/** Compare-and-set on the old KEK version: a concurrent rewrap or erasure wins cleanly. Rows changed. */
export async function rewrapDataKey(
  q: Queryable,
  key: {
    patientId: string
    version: number
    fromKekVersion: number | null
    toKekVersion: number
    wrappedKey: string
  },
): Promise<number> {
  const updated = await q.query(
    'UPDATE patient_data_keys SET kek_version = $1, wrapped_key = $2 WHERE patient_id = $3 AND version = $4 AND kek_version = $5 AND wrapped_key IS NOT NULL',
    [key.toKekVersion, key.wrappedKey, key.patientId, key.version, key.fromKekVersion],
  )
  return updated.rowCount
}

/** Crypto-shredding: destroys every data key of the patient and marks the record erased. */
export async function destroyAllDataKeys(q: Queryable, patientId: string, now: Date): Promise<void> {
  await q.query(
    'UPDATE patient_data_keys SET wrapped_key = NULL, kek_version = NULL, destroyed_at = $2 WHERE patient_id = $1 AND wrapped_key IS NOT NULL',
    [patientId, now],
  )
  await q.query('UPDATE patients SET erased_at = $2, updated_at = $2 WHERE id = $1 AND erased_at IS NULL', [
    patientId,
    now,
  ])
}

/** The patient's live data-key versions older than their newest. */
export async function olderLiveVersions(q: Queryable, patientId: string): Promise<number[]> {
  const { rows } = await q.query<{ version: number }>(
    `SELECT version FROM patient_data_keys WHERE patient_id = $1 AND wrapped_key IS NOT NULL
       AND version < (SELECT max(version) FROM patient_data_keys WHERE patient_id = $1) ORDER BY version`,
    [patientId],
  )
  return rows.map((r) => Number(r.version))
}

/** Destroys one superseded version (never the newest). */
export async function destroyDataKeyVersion(
  q: Queryable,
  patientId: string,
  version: number,
  now: Date,
): Promise<void> {
  await q.query(
    `UPDATE patient_data_keys SET wrapped_key = NULL, kek_version = NULL, destroyed_at = $3 WHERE patient_id = $1 AND version = $2
       AND version < (SELECT max(version) FROM patient_data_keys WHERE patient_id = $1)`,
    [patientId, version, now],
  )
}
