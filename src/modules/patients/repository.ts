// SQL for the patients table (ADR-0030: SQL only). Demographics stay sealed here: the service
// seals and opens them with the patient's own data key (ADR-0009).

import type { Queryable } from '../../platform/db/index.ts'

/** A patient row as stored: demographics sealed, null once erased or not yet written. */
export interface PatientRecord {
  readonly id: string
  readonly userId: string | null
  readonly organisationId: string | null
  readonly demographicsSealed: string | null
  readonly version: number
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly erasedAt: Date | null
}

interface PatientRow {
  id: string
  user_id: string | null
  organisation_id: string | null
  demographics_sealed: string | null
  version: number
  created_at: Date | string
  updated_at: Date | string
  erased_at: Date | string | null
}

const COLUMNS =
  'id, user_id, organisation_id, demographics_sealed, version, created_at, updated_at, erased_at'

function toRecord(row: PatientRow): PatientRecord {
  return {
    id: row.id,
    userId: row.user_id,
    organisationId: row.organisation_id,
    demographicsSealed: row.demographics_sealed,
    version: Number(row.version),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    erasedAt: row.erased_at === null ? null : new Date(row.erased_at),
  }
}

/** The bare row (the data key references it); the demographics follow with setDemographics. */
export async function insertPatient(
  q: Queryable,
  p: { id: string; userId: string | null; organisationId: string | null },
  now: Date,
): Promise<void> {
  await q.query(
    'INSERT INTO patients (id, user_id, organisation_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)',
    [p.id, p.userId, p.organisationId, now],
  )
}

/** Writes the first sealed demographics of a new patient (no version bump). */
export async function setDemographics(
  q: Queryable,
  id: string,
  sealed: string,
  identifierIndex: readonly string[],
): Promise<PatientRecord> {
  const { rows } = await q.query<PatientRow>(
    `UPDATE patients SET demographics_sealed = $2, identifier_index = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, sealed, identifierIndex],
  )
  return toRecord(rows[0] as PatientRow)
}

/** Replaces the sealed demographics of an existing patient: a new version. */
export async function replaceDemographics(
  q: Queryable,
  id: string,
  sealed: string,
  identifierIndex: readonly string[],
  now: Date,
): Promise<PatientRecord> {
  const { rows } = await q.query<PatientRow>(
    `UPDATE patients SET demographics_sealed = $2, identifier_index = $3, version = version + 1, updated_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, sealed, identifierIndex, now],
  )
  return toRecord(rows[0] as PatientRow)
}

export async function findPatient(
  q: Queryable,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<PatientRecord | undefined> {
  const { rows } = await q.query<PatientRow>(
    `SELECT ${COLUMNS} FROM patients WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  )
  return rows[0] && toRecord(rows[0])
}

export async function findPatients(q: Queryable, ids: readonly string[]): Promise<PatientRecord[]> {
  if (ids.length === 0) return []
  const { rows } = await q.query<PatientRow>(
    `SELECT ${COLUMNS} FROM patients WHERE id = ANY($1::uuid[]) ORDER BY id`,
    [ids],
  )
  return rows.map(toRecord)
}

export async function findPatientByUser(q: Queryable, userId: string): Promise<PatientRecord | undefined> {
  const { rows } = await q.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE user_id = $1`, [userId])
  return rows[0] && toRecord(rows[0])
}

/** Id of the user's own patient record that is not erased, if any. */
export async function activePatientIdOfUser(q: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ id: string }>(
    'SELECT id FROM patients WHERE user_id = $1 AND erased_at IS NULL',
    [userId],
  )
  return rows[0]?.id
}

/** Ids of the patients (not erased) whose identifier index holds this blind index. */
export async function patientIdsByIdentifierIndex(q: Queryable, index: string): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    'SELECT id FROM patients WHERE identifier_index @> ARRAY[$1]::text[] AND erased_at IS NULL',
    [index],
  )
  return rows.map((r) => r.id)
}

/** undefined: no such patient; null: not erased; a date: when it was erased. */
export async function patientErasedAt(
  q: Queryable,
  id: string,
  opts: { forUpdate?: boolean } = {},
): Promise<Date | null | undefined> {
  const { rows } = await q.query<{ erased_at: Date | string | null }>(
    `SELECT erased_at FROM patients WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  )
  const row = rows[0]
  if (!row) return undefined
  return row.erased_at === null ? null : new Date(row.erased_at)
}

/** user id → patient id, for the given users who have a patient record (erased or not). */
export async function patientIdsOfUsers(
  q: Queryable,
  userIds: readonly string[],
): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map()
  const { rows } = await q.query<{ id: string; user_id: string }>(
    'SELECT id, user_id FROM patients WHERE user_id = ANY($1::uuid[])',
    [userIds],
  )
  return new Map(rows.map((r) => [r.user_id, r.id]))
}

/** The user account of a patient record, if it has one. */
export async function userIdOfPatient(q: Queryable, patientId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ user_id: string | null }>('SELECT user_id FROM patients WHERE id = $1', [
    patientId,
  ])
  return rows[0]?.user_id ?? undefined
}
