// SQL for readings, idempotency records, the outbox and daily quota counters (ADR-0010). SQL only:
// parameters always bound, rows turned into plain values; bigint normalised with Number() (PGlite
// gives numbers, pg strings).

import { arrayParam, type Queryable } from '../../platform/db/index.ts'

export interface ReadingRow {
  readonly id: string
  readonly patientId: string
  readonly deviceId: string | null
  readonly code: string
  readonly category: string
  readonly effectiveAt: Date
  readonly offsetMinutes: number
  readonly receivedAt: Date
  readonly clientReadingId: string | null
  readonly sequence: number | null
  readonly valueSealed: string
  readonly contentIndex: string
  readonly source: string
}

export interface StoredKey {
  readonly id: string
  readonly clientReadingId: string | null
  readonly code: string
  readonly effectiveAt: Date
  readonly sequence: number | null
  readonly contentIndex: string
}

/** Each column of a stored reading: its name, its SQL type and its value, in one place. */
const READING_COLUMNS: readonly (readonly [string, string, (r: ReadingRow) => string | number | null])[] = [
  ['id', 'uuid', (r) => r.id],
  ['patient_id', 'uuid', (r) => r.patientId],
  ['device_id', 'uuid', (r) => r.deviceId],
  ['code', 'text', (r) => r.code],
  ['category', 'text', (r) => r.category],
  ['effective_at', 'timestamptz', (r) => r.effectiveAt.toISOString()],
  ['effective_offset_minutes', 'smallint', (r) => r.offsetMinutes],
  ['received_at', 'timestamptz', (r) => r.receivedAt.toISOString()],
  ['client_reading_id', 'text', (r) => r.clientReadingId],
  ['sequence', 'bigint', (r) => r.sequence],
  ['value_sealed', 'text', (r) => r.valueSealed],
  ['content_index', 'text', (r) => r.contentIndex],
  ['source', 'text', (r) => r.source],
]

/** "id, patient_id, …": the column list of every insert and select of readings here. */
const COLUMN_LIST = READING_COLUMNS.map(([name]) => name).join(', ')

/**
 * The rows as one array parameter per column, appended to `params` after any already there, and
 * the `SELECT * FROM unnest(…)` that turns them back into rows in the same order: 13 parameters for
 * any number of rows, instead of 13 per row (issue 17).
 */
function readingArrays(rows: readonly ReadingRow[], params: unknown[]): string {
  const start = params.length
  for (const [, , value] of READING_COLUMNS) params.push(arrayParam(rows, value))
  return `SELECT * FROM unnest(${READING_COLUMNS.map(([, type], i) => `$${start + i + 1}::${type}[]`).join(', ')})`
}

/** Inserts the rows, skipping any whose dedup key is taken (either unique index); returns the ids stored. */
export async function insertReadings(q: Queryable, rows: readonly ReadingRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set()
  const params: unknown[] = []
  const select = readingArrays(rows, params)
  // ON CONFLICT DO NOTHING without a target covers both partial unique indexes (dedup keys);
  // a concurrent insert of the same key waits for the other transaction, then is skipped.
  const { rows: inserted } = await q.query<{ id: string }>(
    `INSERT INTO readings (${COLUMN_LIST}) ${select} ON CONFLICT DO NOTHING RETURNING id`,
    params,
  )
  return new Set(inserted.map((r) => r.id))
}

/** A group's outbox rows: one `device-data.accepted` payload per request, in request order. */
export interface GroupOutbox {
  readonly topic: string
  readonly payloads: readonly unknown[]
  readonly createdAt: Date
}

/**
 * The CTEs `r` (the readings, taken dedup keys skipped), `u` (each device's daily count, one row
 * per device in device order) and `o` (the outbox rows, written only when every reading was
 * stored, for their payloads name them all), with their parameters appended to `params`. `$1` is
 * the day and `$2` the number of readings. The caller sorts the readings by device: transactions
 * take these row locks in one order, so two groups on two instances cannot deadlock on them.
 */
function groupCtes(rows: readonly ReadingRow[], day: string, outbox: GroupOutbox, params: unknown[]): string {
  params.push(
    day,
    rows.length,
    outbox.topic,
    arrayParam(outbox.payloads, (p) => JSON.stringify(p)),
    outbox.createdAt.toISOString(),
  )
  const select = readingArrays(rows, params)
  return `r AS (
       INSERT INTO readings (${COLUMN_LIST}) ${select} ON CONFLICT DO NOTHING RETURNING id, device_id
     ), u AS (
       INSERT INTO device_daily_usage (device_id, day, readings)
       SELECT device_id, $1::date, count(*) FROM r GROUP BY device_id ORDER BY device_id
       ON CONFLICT (device_id, day) DO UPDATE SET readings = device_daily_usage.readings + EXCLUDED.readings
       RETURNING device_id, readings
     ), o AS (
       INSERT INTO outbox (topic, payload, created_at)
       SELECT $3::text, x.p, $5::timestamptz FROM unnest($4::jsonb[]) WITH ORDINALITY AS x(p, n)
        WHERE (SELECT count(*) FROM r) = $2::bigint ORDER BY x.n
       RETURNING 1
     )`
}

export interface CountedInsert {
  /** The ids stored (the others' dedup keys were taken). */
  readonly inserted: ReadonlySet<string>
  /** Each device's count for the day after this insert, with its own quota; a device with nothing stored is absent. */
  readonly usage: ReadonlyMap<string, { used: number; quota: number | null }>
  /** Whether the outbox rows were written: only when every row was stored (their payloads name them all). */
  readonly outboxWritten: boolean
}

/**
 * Devices' readings, their daily counts and one outbox row per request in one statement (issue 17;
 * ADR-0029, ADR-0036), inside the caller's transaction: a request alone, or a group. The insert
 * skips taken dedup keys like insertReadings, each count grows by the rows stored, and the outbox
 * rows are written only when every row was stored (otherwise a request alone writes the right one,
 * and a group runs each request alone). The caller checks the quota and rolls back when it is
 * exceeded.
 */
export async function insertReadingsCounted(
  q: Queryable,
  rows: readonly ReadingRow[],
  day: string,
  outbox: GroupOutbox,
): Promise<CountedInsert> {
  if (rows.length === 0) return { inserted: new Set(), usage: new Map(), outboxWritten: false }
  const params: unknown[] = []
  const { rows: out } = await q.query<{ ids: string[] | null; usage: unknown; outbox: number | string }>(
    `WITH ${groupCtes(rows, day, outbox, params)}
     SELECT (SELECT array_agg(id::text) FROM r) AS ids,
            (SELECT json_agg(json_build_object('d', u.device_id, 'used', u.readings, 'quota', pd.daily_quota))
               FROM u JOIN published_devices pd ON pd.id = u.device_id) AS usage,
            (SELECT count(*) FROM o) AS outbox`,
    params,
  )
  const row = out[0] as { ids: string[] | null; usage: unknown; outbox: number | string }
  const list = (typeof row.usage === 'string' ? JSON.parse(row.usage) : (row.usage ?? [])) as Array<{
    d: string
    used: number | string
    quota: number | string | null
  }>
  return {
    inserted: new Set(row.ids ?? []),
    usage: new Map(
      list.map((u) => [u.d, { used: Number(u.used), quota: u.quota === null ? null : Number(u.quota) }]),
    ),
    outboxWritten: Number(row.outbox) > 0,
  }
}

/** How a statement written for the common outcome ended: written, or not (nothing written) and why. */
export type AuditedInsert = 'written' | 'not-common' | 'stale-head'

/**
 * Group commit in one autocommit statement (ADR-0036): insertReadingsCounted's readings, counts and outbox rows,
 * and the requests' audit entries through the audit module's CTEs, written for the common
 * outcome. If a reading's key was taken or a device went over its quota ('not-common'), or the
 * audit chain's head was not the one guessed ('stale-head'), vigil_expect raises and the statement
 * writes nothing.
 */
export async function insertReadingsAudited(
  q: Queryable,
  rows: readonly ReadingRow[],
  day: string,
  outbox: GroupOutbox,
  defaultQuota: number,
  audit: (params: unknown[]) => { ctes: string; appended: string },
): Promise<AuditedInsert> {
  const params: unknown[] = []
  const ctes = groupCtes(rows, day, outbox, params)
  const quota = `$${params.push(defaultQuota)}::bigint`
  const entries = audit(params)
  try {
    await q.query(
      `WITH ${ctes}, ${entries.ctes}
       SELECT vigil_expect(
                (SELECT count(*) FROM r) = $2::bigint
                AND NOT EXISTS (SELECT 1 FROM u JOIN published_devices pd ON pd.id = u.device_id
                                 WHERE u.readings > COALESCE(pd.daily_quota, ${quota})),
                'not-common')
          AND vigil_expect(${entries.appended}, 'stale-head') AS written`,
      params,
    )
    return 'written'
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } }
    if ((e.code ?? e.cause?.code) !== 'VG001') throw err
    return `${String(e.message ?? '')} ${String(e.cause?.message ?? '')}`.includes('stale-head')
      ? 'stale-head'
      : 'not-common'
  }
}

function toKey(r: {
  id: string
  client_reading_id: string | null
  code: string
  effective_at: Date | string
  sequence: number | string | null
  content_index: string
}): StoredKey {
  return {
    id: r.id,
    clientReadingId: r.client_reading_id,
    code: r.code,
    effectiveAt: new Date(r.effective_at),
    sequence: r.sequence === null ? null : Number(r.sequence),
    contentIndex: r.content_index,
  }
}

/** The stored readings holding these dedup keys for a device. */
export async function findByDedupKeys(
  q: Queryable,
  deviceId: string,
  keys: {
    clientIds: readonly string[]
    timed: ReadonlyArray<{ code: string; effectiveAt: Date; sequence: number | null }>
  },
): Promise<StoredKey[]> {
  const found: StoredKey[] = []
  type Row = Parameters<typeof toKey>[0]
  if (keys.clientIds.length > 0) {
    const { rows } = await q.query<Row>(
      'SELECT id, client_reading_id, code, effective_at, sequence, content_index FROM readings WHERE device_id = $1 AND client_reading_id = ANY($2::text[])',
      [deviceId, keys.clientIds],
    )
    found.push(...rows.map(toKey))
  }
  if (keys.timed.length > 0) {
    const { rows } = await q.query<Row>(
      `SELECT r.id, r.client_reading_id, r.code, r.effective_at, r.sequence, r.content_index
         FROM readings r JOIN unnest($2::text[], $3::timestamptz[], $4::bigint[]) AS k(code, effective_at, seq)
           ON r.code = k.code AND r.effective_at = k.effective_at AND coalesce(r.sequence, -1) = k.seq
        WHERE r.device_id = $1 AND r.client_reading_id IS NULL`,
      [
        deviceId,
        keys.timed.map((k) => k.code),
        keys.timed.map((k) => k.effectiveAt.toISOString()),
        keys.timed.map((k) => k.sequence ?? -1),
      ],
    )
    found.push(...rows.map(toKey))
  }
  return found
}

export interface IdempotencyRecord {
  readonly requestHash: string
  readonly statusCode: number
  readonly responseBody: unknown
}

export async function findIdempotency(
  q: Queryable,
  principal: string,
  key: string,
  now: Date,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await q.query<{ request_hash: string; status_code: number; response_body: unknown }>(
    'SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE principal = $1 AND key = $2 AND expires_at > $3',
    [principal, key, now.toISOString()],
  )
  const row = rows[0]
  if (!row) return undefined
  const body =
    typeof row.response_body === 'string' ? (JSON.parse(row.response_body) as unknown) : row.response_body
  return { requestHash: row.request_hash, statusCode: Number(row.status_code), responseBody: body }
}

/** Stores the response under the key; false when another request stored one first (it wins). */
export async function saveIdempotency(
  q: Queryable,
  principal: string,
  key: string,
  record: IdempotencyRecord,
  now: Date,
  expiresAt: Date,
): Promise<boolean> {
  // An expired record under the same key is replaced, not replayed.
  await q.query('DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND expires_at <= $3', [
    principal,
    key,
    now.toISOString(),
  ])
  const { rowCount } = await q.query(
    `INSERT INTO idempotency_keys (principal, key, request_hash, status_code, response_body, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (principal, key) DO NOTHING`,
    [
      principal,
      key,
      record.requestHash,
      record.statusCode,
      JSON.stringify(record.responseBody),
      now.toISOString(),
      expiresAt.toISOString(),
    ],
  )
  return rowCount > 0
}

export async function insertOutbox(q: Queryable, topic: string, payload: unknown, now: Date): Promise<void> {
  await q.query('INSERT INTO outbox (topic, payload, created_at) VALUES ($1, $2, $3)', [
    topic,
    JSON.stringify(payload),
    now.toISOString(),
  ])
}

/** Adds to the device's count for the UTC day; returns the new count and the device's own quota (null: the default). */
export async function addDailyUsage(
  q: Queryable,
  deviceId: string,
  day: string,
  readings: number,
): Promise<{ used: number; quota: number | null }> {
  const { rows } = await q.query<{ readings: number | string; quota: number | string | null }>(
    `INSERT INTO device_daily_usage (device_id, day, readings) VALUES ($1, $2, $3)
     ON CONFLICT (device_id, day) DO UPDATE SET readings = device_daily_usage.readings + EXCLUDED.readings
     RETURNING readings, (SELECT daily_quota FROM published_devices WHERE id = $1) AS quota`,
    [deviceId, day, readings],
  )
  const row = rows[0] as { readings: number | string; quota: number | string | null }
  return { used: Number(row.readings), quota: row.quota === null ? null : Number(row.quota) }
}

export interface ReadingQuery {
  readonly patientIds: readonly string[]
  readonly code?: string | undefined
  readonly from?: Date | undefined
  readonly to?: Date | undefined
  readonly after?: { readonly effectiveAt: Date; readonly id: string } | undefined
  readonly limit: number
}

/** Readings in (effective_at, id) order, after the cursor position; limit rows at most. */
export async function queryReadings(q: Queryable, query: ReadingQuery): Promise<ReadingRow[]> {
  const where = ['patient_id = ANY($1::uuid[])']
  const params: unknown[] = [query.patientIds]
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value)
    where.push(sql(`$${params.length}`))
  }
  if (query.code !== undefined) add((n) => `code = ${n}`, query.code)
  if (query.from) add((n) => `effective_at >= ${n}`, query.from.toISOString())
  if (query.to) add((n) => `effective_at < ${n}`, query.to.toISOString())
  if (query.after) {
    params.push(query.after.effectiveAt.toISOString(), query.after.id)
    where.push(`(effective_at, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`)
  }
  params.push(query.limit)
  const { rows } = await q.query<Record<string, unknown>>(
    `SELECT ${COLUMN_LIST} FROM readings WHERE ${where.join(' AND ')} ORDER BY effective_at, id LIMIT $${params.length}`,
    params,
  )
  return rows.map((r) => ({
    id: r.id as string,
    patientId: r.patient_id as string,
    deviceId: (r.device_id as string | null) ?? null,
    code: r.code as string,
    category: r.category as string,
    effectiveAt: new Date(r.effective_at as string),
    offsetMinutes: Number(r.effective_offset_minutes),
    receivedAt: new Date(r.received_at as string),
    clientReadingId: (r.client_reading_id as string | null) ?? null,
    sequence: r.sequence === null || r.sequence === undefined ? null : Number(r.sequence),
    valueSealed: r.value_sealed as string,
    contentIndex: r.content_index as string,
    source: r.source as string,
  }))
}
