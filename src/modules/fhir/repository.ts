// The FHIR module's SQL (ADR-0030): the rows its presenters turn into resources, its searches
// (typed filters in, the WHERE clause and its parameters built here, one keyset page out), and its
// one write (a DiagnosticReport). Rows out, no HTTP and no policy: the routes decide which patients
// a search may reach before it runs, and who may see a row after it is loaded.

import type { Queryable } from '../../platform/db/index.ts'
import type { Cursor } from '../../fhir-format/bundle.ts'
import { dateSql, type DateRange } from '../../fhir-format/search.ts'

export interface KeysetRow {
  readonly id: string
  readonly sort_key: string
}

export interface KeysetPage<R> {
  readonly rows: R[]
  readonly hasNext: boolean
  readonly hasPrevious: boolean
}

/** Where a page of a search starts and how long it is. */
export interface Paging {
  readonly count: number
  readonly cursor: Cursor | undefined
}

/**
 * One page of a keyset search ordered by (time, id): `where` and `params` hold the filters; the
 * cursor adds the edge condition; one row more than the page tells whether another page follows.
 */
async function keysetPage<R extends KeysetRow>(
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
): Promise<KeysetPage<R>> {
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

const READING_COLUMNS =
  'r.id, r.patient_id, r.device_id, r.code, r.category, r.effective_at, r.effective_offset_minutes, r.received_at, r.value_sealed, r.version, r.updated_at'

export async function readingById(q: Queryable, id: string): Promise<ReadingRow | undefined> {
  const { rows } = await q.query<ReadingRow>(
    `SELECT ${READING_COLUMNS}, '' AS sort_key FROM published_readings r WHERE r.id = $1`,
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
    `SELECT ${READING_COLUMNS}, '' AS sort_key FROM published_readings r WHERE r.id = ANY($1::uuid[]) AND r.patient_id = $2 ORDER BY r.effective_at, r.id`,
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
    'SELECT id FROM published_readings WHERE id = ANY($1::uuid[]) AND patient_id = $2',
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

const REPORT_COLUMNS =
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

const DEVICE_COLUMNS =
  'd.id, d.manufacturer, d.model, d.serial, d.type, d.firmware_version, d.status, d.version, d.updated_at, b.patient_id'
/** Devices with their current binding, if any. */
const DEVICES =
  'published_devices d LEFT JOIN published_device_bindings b ON b.device_id = d.id AND b.unbound_at IS NULL'
/** Only devices bound to a patient now (the search's FROM). */
const BOUND_DEVICES = DEVICES.replace('LEFT JOIN', 'JOIN')

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
    'SELECT id, version FROM published_patients WHERE id = ANY($1::uuid[]) AND organisation_id = $2',
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
    `SELECT u.id, u.display_name, u.updated_at FROM published_users u
      WHERE u.id = $1 AND u.status = 'active'
        AND EXISTS (SELECT 1 FROM published_user_roles r WHERE r.user_id = u.id AND r.role = 'clinician')
        AND (u.id = $2
          OR EXISTS (SELECT 1 FROM published_care_team_members c JOIN published_patients p ON p.id = c.patient_id
                      WHERE c.user_id = u.id AND (p.user_id = $2 OR p.id = $3))
          OR EXISTS (SELECT 1 FROM published_user_roles mine JOIN published_user_roles theirs ON theirs.organisation_id = mine.organisation_id
                      WHERE mine.user_id = $2 AND theirs.user_id = u.id AND mine.role IN ('clinician', 'org-admin') AND theirs.role = 'clinician'))`,
    [practitionerId, callerUserId, launchPatientId],
  )
  return rows[0]
}

// Searches. Each list of lists is AND across its groups and OR within a group (a FHIR parameter
// repeated, and a comma-separated value); the patients are those the caller may reach, decided
// by the route; none, and the search is empty without a statement.

const EMPTY = { rows: [], hasNext: false, hasPrevious: false }

/** Adds `column = ANY($n)` for each group of alternatives. */
function anyOf(
  where: string[],
  params: unknown[],
  column: string,
  groups: readonly (readonly string[])[],
  cast: 'text' | 'uuid',
): void {
  for (const values of groups) {
    params.push(values)
    where.push(`${column} = ANY($${params.length}::${cast}[])`)
  }
}

/** A granular SMART scope's parameter, resolved: a column it constrains, or null for one no column answers (matches nothing). */
export type GranularTerm = { readonly column: 'category' | 'code'; readonly value: string } | null

export interface ReadingSearch {
  readonly patients: readonly string[]
  readonly ids: readonly (readonly string[])[]
  readonly codes: readonly (readonly string[])[]
  readonly categories: readonly (readonly string[])[]
  readonly devices: readonly (readonly string[])[]
  readonly dates: readonly DateRange[]
  readonly lastUpdated: readonly DateRange[]
  /** Granular SMART scopes: any one alternative, all of its terms (SMART App Launch 2.0 §3.0.2.3). */
  readonly granular?: readonly (readonly GranularTerm[])[] | undefined
  readonly descending: boolean
}

export async function searchReadings(
  q: Queryable,
  s: ReadingSearch,
  paging: Paging,
): Promise<KeysetPage<ReadingRow>> {
  if (s.patients.length === 0) return EMPTY
  const params: unknown[] = [s.patients]
  const where = ['r.patient_id = ANY($1::uuid[])']
  anyOf(where, params, 'r.id', s.ids, 'uuid')
  anyOf(where, params, 'r.code', s.codes, 'text')
  anyOf(where, params, 'r.category', s.categories, 'text')
  anyOf(where, params, 'r.device_id', s.devices, 'uuid')
  for (const d of s.dates) where.push(dateSql('r.effective_at', d, params))
  for (const d of s.lastUpdated) where.push(dateSql('r.updated_at', d, params))
  if (s.granular) {
    const alternatives = s.granular.map((terms) => {
      const parts = terms.map((t) => {
        if (t === null) return 'false'
        params.push(t.value)
        return `r.${t.column} = $${params.length}`
      })
      return `(${parts.join(' AND ') || 'true'})`
    })
    where.push(`(${alternatives.join(' OR ') || 'false'})`)
  }
  return keysetPage<ReadingRow>(q, {
    select: READING_COLUMNS,
    from: 'published_readings r',
    where,
    params,
    timeColumn: 'r.effective_at',
    idColumn: 'r.id',
    descending: s.descending,
    ...paging,
  })
}

export interface ReportSearch {
  readonly patients: readonly string[]
  readonly ids: readonly (readonly string[])[]
  readonly codes: readonly (readonly string[])[]
  readonly dates: readonly DateRange[]
}

/** DiagnosticReports, newest first. */
export async function searchReports(
  q: Queryable,
  s: ReportSearch,
  paging: Paging,
): Promise<KeysetPage<ReportRow>> {
  if (s.patients.length === 0) return EMPTY
  const params: unknown[] = [s.patients]
  const where = ['r.patient_id = ANY($1::uuid[])']
  anyOf(where, params, 'r.id', s.ids, 'uuid')
  anyOf(where, params, 'r.code', s.codes, 'text')
  for (const d of s.dates) where.push(dateSql('r.effective_at', d, params))
  return keysetPage<ReportRow>(q, {
    select: REPORT_COLUMNS,
    from: 'diagnostic_reports r',
    where,
    params,
    timeColumn: 'r.effective_at',
    idColumn: 'r.id',
    descending: true,
    ...paging,
  })
}

export interface DeviceSearch {
  readonly patients: readonly string[]
  readonly ids: readonly (readonly string[])[]
  readonly serials: readonly (readonly string[])[]
}

/** Devices bound to one of the patients now, oldest registration first. */
export async function searchBoundDevices(
  q: Queryable,
  s: DeviceSearch,
  paging: Paging,
): Promise<KeysetPage<DeviceRow>> {
  if (s.patients.length === 0) return EMPTY
  const params: unknown[] = [s.patients]
  const where = ['b.patient_id = ANY($1::uuid[])']
  anyOf(where, params, 'd.id', s.ids, 'uuid')
  anyOf(where, params, 'd.serial', s.serials, 'text')
  return keysetPage<DeviceRow>(q, {
    select: DEVICE_COLUMNS,
    from: BOUND_DEVICES,
    where,
    params,
    timeColumn: 'd.created_at',
    idColumn: 'd.id',
    descending: false,
    ...paging,
  })
}
