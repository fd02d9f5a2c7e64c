// The anomaly detector's SQL (ADR-0010, ADR-0030): the audit entries each rule counts, the
// security events it stores (once per kind, subject and window) and its high-water mark. The
// rules themselves — windows, thresholds, crossings — are in anomalies.ts.

import type { Queryable } from '../platform/db/index.ts'

/** One audit entry as a rule counts it: when, in which group, with which value (distinct counts). */
export interface RuleRow {
  readonly id: string
  readonly at: Date
  readonly group: string
  readonly value?: string | null
}

const asDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v))

/**
 * The rows of `sql` (entries since $1, with columns id, at, grp, value), but only of the groups
 * that reach `minimum` over the whole range: entries, or distinct values when `distinct`. A group
 * under it over the whole range cannot reach it in any window inside the range, so what it
 * leaves out changes no crossing, and a quiet trail sends nothing to the server.
 *
 * One pass with window functions, not a join of the rows to their groups' counts: a join's plan
 * rests on the table's statistics, and on a young table (none yet) PostgreSQL chose a nested loop
 * that recounted every group for every row, which ran for more than 30 s over a busy hour. The
 * distinct count is the sum of the two dense ranks minus one; a NULL value would count as one more
 * value, which only keeps more rows.
 */
async function rowsSince(
  q: Queryable,
  sql: string,
  from: Date,
  minimum: number,
  distinct = false,
): Promise<RuleRow[]> {
  const reach = distinct
    ? 'dense_rank() OVER (PARTITION BY grp ORDER BY value) + dense_rank() OVER (PARTITION BY grp ORDER BY value DESC) - 1'
    : 'count(*) OVER (PARTITION BY grp)'
  const { rows } = await q.query<{ id: string; at: Date | string; grp: string; value: string | null }>(
    `SELECT id, at, grp, value FROM (SELECT r.*, ${reach} AS reach FROM (${sql}) r) counted
     WHERE reach >= $2
     ORDER BY at, id`,
    [from.toISOString(), Math.max(1, Math.ceil(minimum))],
  )
  return rows.map((r) => ({ id: r.id, at: asDate(r.at), group: r.grp, value: r.value }))
}

/** Failed or blocked sign-ins per account. */
export const failedLoginEntries = (q: Queryable, from: Date, minimum: number): Promise<RuleRow[]> =>
  rowsSince(
    q,
    `SELECT id, occurred_at AS at, resource_id AS grp, NULL AS value FROM audit_entries
      WHERE action IN ('login.failed', 'login.blocked') AND resource_type = 'account' AND resource_id IS NOT NULL AND occurred_at >= $1::timestamptz`,
    from,
    minimum,
  )

/**
 * Failed or blocked sign-in requests per address: a person's password, and the OAuth refusals
 * that are a wrong credential (ADR-0018 items 10 and 11): a client's secret or assertion where
 * clients authenticate (`invalid_client`), a device's user code that matches none. A person's
 * attempt leaves an entry per counter it touched (address and account), so entries are grouped
 * by request.
 */
export const failedLoginRequestsByIp = (q: Queryable, from: Date, minimum: number): Promise<RuleRow[]> =>
  rowsSince(
    q,
    `SELECT min(id::text) AS id, min(occurred_at) AS at, ip AS grp, NULL AS value FROM audit_entries
      WHERE action IN ('login.failed', 'login.blocked', 'oauth.token', 'oauth.introspection', 'oauth.revocation',
                       'oauth.device_authorization', 'oauth.pushed_authorization_request', 'oauth.code_verification')
        AND (action LIKE 'login.%' OR decision_rule IN ('invalid_client', 'user_code_not_found'))
        AND ip IS NOT NULL AND occurred_at >= $1::timestamptz
      GROUP BY ip, coalesce(request_id, id::text)`,
    from,
    minimum,
  )

/** Successful user accesses that carried a patient (the value is the patient; distinct patients count). */
export const patientAccessEntries = (q: Queryable, from: Date, minimum: number): Promise<RuleRow[]> =>
  rowsSince(
    q,
    `SELECT id, occurred_at AS at, actor_id AS grp, patient_id AS value FROM audit_entries
      WHERE actor_kind = 'user' AND actor_id IS NOT NULL AND patient_id IS NOT NULL AND outcome = 'success' AND occurred_at >= $1::timestamptz`,
    from,
    minimum,
    true,
  )

/** Refusals per actor: 403, and 404 that concealed a denial. */
export const forbiddenEntries = (q: Queryable, from: Date, minimum: number): Promise<RuleRow[]> =>
  rowsSince(
    q,
    `SELECT id, occurred_at AS at, actor_id AS grp, NULL AS value FROM audit_entries
      WHERE actor_id IS NOT NULL AND (status = 403 OR (status = 404 AND outcome = 'denied')) AND occurred_at >= $1::timestamptz`,
    from,
    minimum,
  )

/** Break-glass openings and accesses, grouped per user and patient (user|patient). */
export const breakGlassEntries = (q: Queryable, from: Date, minimum: number): Promise<RuleRow[]> =>
  rowsSince(
    q,
    `SELECT id, occurred_at AS at, actor_id || '|' || coalesce(patient_id, '') AS grp, NULL AS value FROM audit_entries
        WHERE actor_id IS NOT NULL AND outcome = 'success' AND (break_glass OR action = 'break-glass.open') AND occurred_at >= $1::timestamptz`,
    from,
    minimum,
  )

/** Successful sign-ins from an address the account never signed in from before (when it has signed in before). */
export async function newIpLogins(
  q: Queryable,
  from: Date,
): Promise<{ id: string; at: Date; actorId: string; ip: string }[]> {
  const { rows } = await q.query<{ id: string; at: Date | string; actor_id: string; ip: string }>(
    `SELECT e.id, e.occurred_at AS at, e.actor_id, e.ip FROM audit_entries e
        WHERE e.action = 'login.succeeded' AND e.actor_id IS NOT NULL AND e.ip IS NOT NULL AND e.occurred_at >= $1::timestamptz
          AND EXISTS (SELECT 1 FROM audit_entries p WHERE p.actor_id = e.actor_id AND p.action = 'login.succeeded' AND (p.occurred_at, p.id) < (e.occurred_at, e.id))
          AND NOT EXISTS (SELECT 1 FROM audit_entries p WHERE p.actor_id = e.actor_id AND p.action = 'login.succeeded' AND p.ip = e.ip AND (p.occurred_at, p.id) < (e.occurred_at, e.id))
        ORDER BY e.occurred_at, e.id`,
    [from.toISOString()],
  )
  return rows.map((r) => ({ id: r.id, at: asDate(r.at), actorId: r.actor_id, ip: r.ip }))
}

export async function readHighWater(q: Queryable, name: string): Promise<Date | undefined> {
  const { rows } = await q.query<{ high_water: Date | string }>(
    'SELECT high_water FROM anomaly_cursor WHERE name = $1',
    [name],
  )
  return rows[0] ? asDate(rows[0].high_water) : undefined
}

/** The mark only moves forward, whichever of two concurrent runs writes last. */
export async function advanceHighWater(q: Queryable, name: string, now: Date): Promise<void> {
  await q.query(
    `INSERT INTO anomaly_cursor (name, high_water, updated_at) VALUES ($1, $2::timestamptz, $2::timestamptz)
     ON CONFLICT (name) DO UPDATE SET high_water = GREATEST(anomaly_cursor.high_water, EXCLUDED.high_water), updated_at = EXCLUDED.updated_at`,
    [name, now.toISOString()],
  )
}

/** Stores the event unless one of its kind, subject and window is stored; the stored row, or undefined. */
export async function insertSecurityEvent(
  q: Queryable,
  e: {
    id: string
    kind: string
    subject: string
    windowStart: Date
    windowKey: string
    details: Record<string, unknown>
  },
  now: Date,
): Promise<{ id: string; createdAt: Date } | undefined> {
  const { rows } = await q.query<{ id: string; created_at: Date | string }>(
    `INSERT INTO security_events (id, kind, subject, window_start, window_key, details, created_at)
       VALUES ($1, $2, $3, $4::timestamptz, $5, $6::jsonb, $7::timestamptz)
       ON CONFLICT (kind, subject, window_key) DO NOTHING
       RETURNING id, created_at`,
    [
      e.id,
      e.kind,
      e.subject,
      e.windowStart.toISOString(),
      e.windowKey,
      JSON.stringify(e.details),
      now.toISOString(),
    ],
  )
  const row = rows[0]
  return row && { id: row.id, createdAt: asDate(row.created_at) }
}
