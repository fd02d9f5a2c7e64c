// SQL of the stored security events (migration 0009), and nothing else.

import type { Queryable } from '../../platform/db/index.ts'

export interface SecurityEventRecord {
  readonly id: string
  readonly kind: string
  readonly subject: string
  readonly windowStart: Date
  readonly windowKey: string
  readonly details: Record<string, unknown>
  readonly createdAt: Date
  readonly acknowledgedAt: Date | null
  readonly acknowledgedBy: string | null
  readonly deliveredAt: Date | null
  readonly deliveryAttempts: number
}

interface Row {
  id: string
  kind: string
  subject: string
  window_start: Date | string
  window_key: string
  details: Record<string, unknown> | string
  created_at: Date | string
  acknowledged_at: Date | string | null
  acknowledged_by: string | null
  delivered_at: Date | string | null
  delivery_attempts: number | string
}

const COLUMNS =
  'id, kind, subject, window_start, window_key, details, created_at, acknowledged_at, acknowledged_by, delivered_at, delivery_attempts'
const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v))
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function toRecord(r: Row): SecurityEventRecord {
  return {
    id: r.id,
    kind: r.kind,
    subject: r.subject,
    windowStart: date(r.window_start),
    windowKey: r.window_key,
    details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
    createdAt: date(r.created_at),
    acknowledgedAt: r.acknowledged_at === null ? null : date(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    deliveredAt: r.delivered_at === null ? null : date(r.delivered_at),
    deliveryAttempts: Number(r.delivery_attempts),
  }
}

export interface EventFilter {
  readonly kind?: string | undefined
  readonly subject?: string | undefined
  readonly acknowledged?: boolean | undefined
  readonly limit: number
  readonly after?: { readonly createdAt: Date; readonly id: string } | undefined
}

/** Newest first, keyset on (created_at, id). */
export async function listEvents(db: Queryable, f: EventFilter): Promise<SecurityEventRecord[]> {
  const where: string[] = []
  const params: unknown[] = []
  const bind = (v: unknown) => {
    params.push(v)
    return `$${params.length}`
  }
  if (f.kind !== undefined) where.push(`kind = ${bind(f.kind)}`)
  if (f.subject !== undefined) where.push(`subject = ${bind(f.subject)}`)
  if (f.acknowledged !== undefined)
    where.push(f.acknowledged ? 'acknowledged_at IS NOT NULL' : 'acknowledged_at IS NULL')
  if (f.after)
    where.push(
      `(created_at, id) < (${bind(f.after.createdAt.toISOString())}::timestamptz, ${bind(f.after.id)}::uuid)`,
    )
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM security_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${bind(f.limit)}`,
    params,
  )
  return rows.map(toRecord)
}

export async function findEvent(db: Queryable, id: string): Promise<SecurityEventRecord | undefined> {
  if (!UUID.test(id)) return undefined
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM security_events WHERE id = $1`, [id])
  return rows[0] ? toRecord(rows[0]) : undefined
}

/** Sets the acknowledgement once; a second acknowledgement keeps the first. */
export async function acknowledgeEvent(
  db: Queryable,
  id: string,
  by: string,
  at: Date,
): Promise<SecurityEventRecord | undefined> {
  if (!UUID.test(id)) return undefined
  await db.query(
    'UPDATE security_events SET acknowledged_at = $2::timestamptz, acknowledged_by = $3 WHERE id = $1 AND acknowledged_at IS NULL',
    [id, at.toISOString(), by],
  )
  return findEvent(db, id)
}

/**
 * Claims up to `limit` undelivered events for delivery until `leaseUntil`. The lease conditions
 * are repeated on the outer UPDATE so that, of two instances racing, PostgreSQL's re-check of the
 * locked row lets only one claim it.
 */
export async function claimUndelivered(
  db: Queryable,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<SecurityEventRecord[]> {
  const { rows } = await db.query<Row>(
    `UPDATE security_events SET delivery_lease_until = $2::timestamptz, delivery_attempts = delivery_attempts + 1
      WHERE id IN (SELECT id FROM security_events WHERE delivered_at IS NULL AND (delivery_lease_until IS NULL OR delivery_lease_until < $1::timestamptz) ORDER BY created_at LIMIT $3)
        AND delivered_at IS NULL AND (delivery_lease_until IS NULL OR delivery_lease_until < $1::timestamptz)
      RETURNING ${COLUMNS}`,
    [now.toISOString(), leaseUntil.toISOString(), limit],
  )
  return rows.map(toRecord).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
}

export async function markDelivered(db: Queryable, id: string, at: Date): Promise<void> {
  await db.query(
    'UPDATE security_events SET delivered_at = $2::timestamptz, delivery_lease_until = NULL WHERE id = $1',
    [id, at.toISOString()],
  )
}

/** A failed delivery: free the lease so the next run retries at once. */
export async function releaseLease(db: Queryable, id: string): Promise<void> {
  await db.query(
    'UPDATE security_events SET delivery_lease_until = NULL WHERE id = $1 AND delivered_at IS NULL',
    [id],
  )
}
