// The FHIR module's SQL (ADR-0030): the rows its presenters turn into resources, the keyset page
// its searches share, and its one write (a DiagnosticReport). Rows out, no HTTP and no policy:
// the routes decide who may see a row after it is loaded.

import type { Queryable } from '../../platform/db/index.ts'
import type { Cursor } from '../../fhir-format/bundle.ts'

export interface KeysetRow {
  readonly id: string
  readonly sort_key: string
}

/**
 * One page of a keyset search ordered by (time, id): `where` and `params` hold the filters; the
 * cursor adds the edge condition; one row more than the page tells whether another page follows.
 */
export async function keysetPage<R extends KeysetRow>(
  q: Queryable,
  input: {
    select: string
    from: string
    where: string[]
    params: unknown[]
    timeColumn: string
    idColumn: string
    descending: boolean
    count: number
    cursor: Cursor | undefined
  },
): Promise<{ rows: R[]; hasNext: boolean; hasPrevious: boolean }> {
  const { cursor, count } = input
  const params = [...input.params]
  const where = [...input.where]
  // Walking backwards (a previous link) reverses the order; the page is put back in order after.
  const backwards = cursor?.d === 'p'
  const desc = input.descending !== backwards
  if (cursor) {
    params.push(cursor.k[0], cursor.k[1])
    const op = desc ? '<' : '>'
    where.push(
      `(${input.timeColumn}, ${input.idColumn}) ${op} ($${params.length - 1}::timestamptz, $${params.length}::uuid)`,
    )
  }
  params.push(count + 1)
  const dir = desc ? 'DESC' : 'ASC'
  const sql = `SELECT ${input.select}, to_char(${input.timeColumn} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_key FROM ${input.from}
    WHERE ${where.length ? where.join(' AND ') : 'true'} ORDER BY ${input.timeColumn} ${dir}, ${input.idColumn} ${dir} LIMIT $${params.length}`
  const { rows } = await q.query<R>(sql, params)
  const more = rows.length > count
  const page = rows.slice(0, count)
  if (backwards) page.reverse()
  return {
    rows: page,
    hasNext: backwards ? true : more,
    hasPrevious: backwards ? more : cursor !== undefined,
  }
}

export interface ReadingRow extends KeysetRow {
  readonly patient_id: string
  readonly device_id: string | null
  readonly code: string
  readonly category: string
  readonly effective_at: Date | string
  readonly effective_offset_minutes: number
  readonly received_at: Date | string
  readonly value_sealed: string
  readonly version: number
  readonly updated_at: Date | string
}

export const READING_COLUMNS =
  'r.id, r.patient_id, r.device_id, r.code, r.category, r.effective_at, r.effective_offset_minutes, r.received_at, r.value_sealed, r.version, r.updated_at'

export async function readingById(q: Queryable, id: string): Promise<ReadingRow | undefined> {
  const { rows } = await q.query<ReadingRow>(
    `SELECT ${READING_COLUMNS}, '' AS sort_key FROM readings r WHERE r.id = $1`,
    [id],
  )
  return rows[0]
}

/** The readings with these ids that belong to this patient, oldest first; others are dropped. */
export async function readingsOfPatient(
  q: Queryable,
  ids: readonly string[],
  patientId: string,
): Promise<ReadingRow[]> {
  const { rows } = await q.query<ReadingRow>(
    `SELECT ${READING_COLUMNS}, '' AS sort_key FROM readings r WHERE r.id = ANY($1::uuid[]) AND r.patient_id = $2 ORDER BY r.effective_at, r.id`,
    [ids, patientId],
  )
  return rows
}

/** Which of these reading ids belong to this patient. */
export async function readingIdsOfPatient(
  q: Queryable,
  ids: readonly string[],
  patientId: string,
): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    'SELECT id FROM readings WHERE id = ANY($1::uuid[]) AND patient_id = $2',
    [ids, patientId],
  )
  return rows.map((r) => r.id)
}

export interface ReportRow extends KeysetRow {
  readonly patient_id: string
  readonly code: string
  readonly code_display: string | null
  readonly status: string
  readonly effective_at: Date | string
  readonly effective_offset_minutes: number
  readonly issued_at: Date | string
  readonly result_reading_ids: string[] | string
  readonly conclusion_sealed: string | null
  readonly version: number
  readonly updated_at: Date | string
}

export const REPORT_COLUMNS =
  'r.id, r.patient_id, r.code, r.code_display, r.status, r.effective_at, r.effective_offset_minutes, r.issued_at, r.result_reading_ids, r.conclusion_sealed, r.version, r.updated_at'

export async function reportById(q: Queryable, id: string): Promise<ReportRow | undefined> {
  const { rows } = await q.query<ReportRow>(
    `SELECT ${REPORT_COLUMNS}, '' AS sort_key FROM diagnostic_reports r WHERE r.id = $1`,
    [id],
  )
  return rows[0]
}

/** The reports with these ids that belong to this patient; others are dropped. */
export async function reportsOfPatient(
  q: Queryable,
  ids: readonly string[],
  patientId: string,
): Promise<ReportRow[]> {
  const { rows } = await q.query<ReportRow>(
    `SELECT ${REPORT_COLUMNS}, '' AS sort_key FROM diagnostic_reports r WHERE r.id = ANY($1::uuid[]) AND r.patient_id = $2`,
    [ids, patientId],
  )
  return rows
}

export interface NewReport {
  readonly id: string
  readonly patientId: string
  readonly code: string
  readonly codeDisplay: string | null
  readonly status: string
  readonly effectiveAt: string
  readonly effectiveOffsetMinutes: number
  readonly issuedAt: Date
  readonly resultReadingIds: readonly string[]
  readonly conclusionSealed: string | null
  readonly performerUserId: string | null
}

export async function insertReport(q: Queryable, r: NewReport): Promise<ReportRow> {
  const { rows } = await q.query<ReportRow>(
    `INSERT INTO diagnostic_reports (id, patient_id, code, code_display, status, effective_at, effective_offset_minutes, issued_at, result_reading_ids, conclusion_sealed, performer_user_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid[], $10, $11, $8, $8) RETURNING ${REPORT_COLUMNS.replaceAll('r.', '')}, '' AS sort_key`,
    [
      r.id,
      r.patientId,
      r.code,
      r.codeDisplay,
      r.status,
      r.effectiveAt,
      r.effectiveOffsetMinutes,
      r.issuedAt,
      r.resultReadingIds,
      r.conclusionSealed,
      r.performerUserId,
    ],
  )
  return rows[0] as ReportRow
}

export interface DeviceRow extends KeysetRow {
  readonly manufacturer: string
  readonly model: string
  readonly serial: string
  readonly type: string
  readonly firmware_version: string | null
  readonly status: string
  readonly version: number
  readonly updated_at: Date | string
  readonly patient_id: string | null
}

export const DEVICE_COLUMNS =
  'd.id, d.manufacturer, d.model, d.serial, d.type, d.firmware_version, d.status, d.version, d.updated_at, b.patient_id'
/** Devices with their current binding, if any. */
const DEVICES = 'devices d LEFT JOIN device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL'
/** Only devices bound to a patient now (the search's FROM). */
export const BOUND_DEVICES = DEVICES.replace('LEFT JOIN', 'JOIN')

export async function devicesByIds(q: Queryable, ids: readonly string[]): Promise<DeviceRow[]> {
  if (ids.length === 0) return []
  const { rows } = await q.query<DeviceRow>(
    `SELECT ${DEVICE_COLUMNS}, '' AS sort_key FROM ${DEVICES} WHERE d.id = ANY($1::uuid[])`,
    [ids],
  )
  return rows
}

/** Id and version of those of these patients that belong to this organisation. */
export async function patientVersionsInOrganisation(
  q: Queryable,
  ids: readonly string[],
  organisationId: string,
): Promise<{ id: string; version: number }[]> {
  const { rows } = await q.query<{ id: string; version: number }>(
    'SELECT id, version FROM patients WHERE id = ANY($1::uuid[]) AND organisation_id = $2',
    [ids, organisationId],
  )
  return rows
}

export interface PractitionerRow {
  readonly id: string
  readonly display_name: string | null
  readonly updated_at: Date | string
}

/**
 * An active clinician this caller may know of: the caller themself, a clinician on the care team
 * of the caller's own record (or of the launch patient), or a clinician of an organisation where
 * the caller is a clinician or an organisation administrator.
 */
export async function visiblePractitioner(
  q: Queryable,
  practitionerId: string,
  callerUserId: string | null,
  launchPatientId: string | null,
): Promise<PractitionerRow | undefined> {
  const { rows } = await q.query<PractitionerRow>(
    `SELECT u.id, u.display_name, u.updated_at FROM users u
      WHERE u.id = $1 AND u.status = 'active'
        AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'clinician')
        AND (u.id = $2
          OR EXISTS (SELECT 1 FROM care_team_members c JOIN patients p ON p.id = c.patient_id
                      WHERE c.user_id = u.id AND (p.user_id = $2 OR p.id = $3))
          OR EXISTS (SELECT 1 FROM user_roles mine JOIN user_roles theirs ON theirs.organisation_id = mine.organisation_id
                      WHERE mine.user_id = $2 AND theirs.user_id = u.id AND mine.role IN ('clinician', 'org-admin') AND theirs.role = 'clinician'))`,
    [practitionerId, callerUserId, launchPatientId],
  )
  return rows[0]
}
