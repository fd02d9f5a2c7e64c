// SQL for event delivery (ADR-0020): the outbox, subscriptions and their delivery rows. SQL only;
// parameters always bound. Timestamps go in as ISO strings and come back as Dates.

import type pg from 'pg'
import type { Queryable } from '../../platform/db/index.ts'
import type { OutboxEvent } from './event-types.ts'

export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off'
export type PayloadContent = 'empty' | 'id-only' | 'full-resource'

export interface Subscription {
  readonly id: string
  readonly kind: 'webhook' | 'fhir'
  readonly organisationId: string | null
  readonly ownerKind: 'user' | 'client' | 'organisation'
  readonly ownerId: string
  readonly ownerClientId: string | null
  readonly scopes: readonly string[]
  readonly launchPatientId: string | null
  readonly url: string
  readonly eventTypes: readonly string[]
  readonly patientId: string | null
  readonly payload: PayloadContent
  readonly description: string | null
  readonly status: SubscriptionStatus
  readonly statusReason: string | null
  readonly secretSealed: string | null
  readonly previousSecretSealed: string | null
  readonly previousSecretExpiresAt: Date | null
  readonly createdAt: Date
  readonly updatedAt: Date
  /** FHIR subscriptions: the SubscriptionTopic canonical, heartbeat and event count (migration 0019). */
  readonly topic: string | null
  readonly heartbeatSeconds: number | null
  readonly eventsSinceStart: number
}

interface SubscriptionRow {
  id: string
  kind: 'webhook' | 'fhir'
  organisation_id: string | null
  owner_kind: 'user' | 'client' | 'organisation'
  owner_id: string
  owner_client_id: string | null
  scopes: string[] | string
  launch_patient_id: string | null
  url: string
  event_types: string[] | string
  patient_id: string | null
  payload: PayloadContent
  description: string | null
  status: SubscriptionStatus
  status_reason: string | null
  secret_sealed: string | null
  previous_secret_sealed: string | null
  previous_secret_expires_at: Date | string | null
  created_at: Date | string
  updated_at: Date | string
  topic: string | null
  heartbeat_seconds: number | null
  events_since_start: number | string
}

const SUBSCRIPTION_COLUMNS =
  'id, kind, organisation_id, owner_kind, owner_id, owner_client_id, scopes, launch_patient_id, url, event_types, patient_id, payload, description, status, status_reason, secret_sealed, previous_secret_sealed, previous_secret_expires_at, created_at, updated_at, topic, heartbeat_seconds, events_since_start'

/** pg returns text[] as an array; be lenient with the '{a,b}' form. */
const textArray = (v: string[] | string): string[] =>
  Array.isArray(v)
    ? v
    : v
        .replace(/^\{|\}$/g, '')
        .split(',')
        .filter(Boolean)
const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v))

function toSubscription(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    kind: r.kind,
    organisationId: r.organisation_id,
    ownerKind: r.owner_kind,
    ownerId: r.owner_id,
    ownerClientId: r.owner_client_id,
    scopes: textArray(r.scopes),
    launchPatientId: r.launch_patient_id,
    url: r.url,
    eventTypes: textArray(r.event_types),
    patientId: r.patient_id,
    payload: r.payload,
    description: r.description,
    status: r.status,
    statusReason: r.status_reason,
    secretSealed: r.secret_sealed,
    previousSecretSealed: r.previous_secret_sealed,
    previousSecretExpiresAt:
      r.previous_secret_expires_at === null ? null : date(r.previous_secret_expires_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    topic: r.topic,
    heartbeatSeconds: r.heartbeat_seconds === null ? null : Number(r.heartbeat_seconds),
    eventsSinceStart: Number(r.events_since_start),
  }
}

export type NewSubscription = Omit<
  Subscription,
  | 'statusReason'
  | 'previousSecretSealed'
  | 'previousSecretExpiresAt'
  | 'createdAt'
  | 'updatedAt'
  | 'eventsSinceStart'
  | 'topic'
  | 'heartbeatSeconds'
> &
  Partial<Pick<Subscription, 'topic' | 'heartbeatSeconds'>>

export async function insertSubscription(q: Queryable, s: NewSubscription, now: Date): Promise<Subscription> {
  const { rows } = await q.query<SubscriptionRow>(
    `INSERT INTO event_subscriptions (id, kind, organisation_id, owner_kind, owner_id, owner_client_id, scopes, launch_patient_id, url, event_types, patient_id, payload, description, status, secret_sealed, created_at, updated_at, topic, heartbeat_seconds)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10::text[], $11, $12, $13, $14, $15, $16, $16, $17, $18) RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [
      s.id,
      s.kind,
      s.organisationId,
      s.ownerKind,
      s.ownerId,
      s.ownerClientId,
      s.scopes,
      s.launchPatientId,
      s.url,
      s.eventTypes,
      s.patientId,
      s.payload,
      s.description,
      s.status,
      s.secretSealed,
      now.toISOString(),
      s.topic ?? null,
      s.heartbeatSeconds ?? null,
    ],
  )
  return toSubscription(rows[0] as SubscriptionRow)
}

export async function findSubscription(
  q: Queryable,
  id: string,
  kind?: 'webhook' | 'fhir',
): Promise<Subscription | undefined> {
  const { rows } = await q.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE id = $1 AND ($2::text IS NULL OR kind = $2)`,
    [id, kind ?? null],
  )
  return rows[0] && toSubscription(rows[0])
}

export async function listSubscriptions(
  q: Queryable,
  filter: { kind: 'webhook' | 'fhir'; organisationIds?: readonly string[]; ownerId?: string },
): Promise<Subscription[]> {
  const { rows } = await q.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM event_subscriptions
      WHERE kind = $1 AND ($2::uuid[] IS NULL OR organisation_id = ANY($2::uuid[])) AND ($3::text IS NULL OR owner_id = $3)
      ORDER BY created_at, id`,
    [filter.kind, filter.organisationIds ?? null, filter.ownerId ?? null],
  )
  return rows.map(toSubscription)
}

export async function activeSubscriptions(q: Queryable): Promise<Subscription[]> {
  const { rows } = await q.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE status = 'active'`,
  )
  return rows.map(toSubscription)
}

export async function deleteSubscription(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query('DELETE FROM event_subscriptions WHERE id = $1', [id])
  return rowCount > 0
}

export async function setSubscriptionStatus(
  q: Queryable,
  id: string,
  status: SubscriptionStatus,
  reason: string | null,
  now: Date,
): Promise<void> {
  await q.query(
    'UPDATE event_subscriptions SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1',
    [id, status, reason, now.toISOString()],
  )
}

export async function rotateSecret(
  q: Queryable,
  id: string,
  sealed: string,
  previousExpiresAt: Date,
  now: Date,
): Promise<void> {
  await q.query(
    `UPDATE event_subscriptions SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = $3, secret_sealed = $2, updated_at = $4 WHERE id = $1`,
    [id, sealed, previousExpiresAt.toISOString(), now.toISOString()],
  )
}

// ---- the outbox ----

interface OutboxRow {
  id: number
  event_id: string
  topic: string
  patient_id: string | null
  payload: Record<string, unknown> | string
  created_at: Date | string
}

const toEvent = (r: OutboxRow): OutboxEvent => ({
  outboxId: Number(r.id),
  eventId: r.event_id,
  type: r.topic,
  patientId: r.patient_id,
  payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
  createdAt: date(r.created_at),
})

// The patient: the column (events written by recordEvent), else the payload's (device-data.accepted).
const OUTBOX_COLUMNS =
  "id, event_id, topic, COALESCE(patient_id::text, payload->>'patientId') AS patient_id, payload, created_at"

/**
 * Committed rows not yet fanned out, oldest first, locked for this transaction (a second relay,
 * should one run, skips them rather than fanning them out twice).
 */
export async function claimUnpublished(q: Queryable, limit: number): Promise<OutboxEvent[]> {
  const { rows } = await q.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  )
  return rows.map(toEvent)
}

export async function markPublished(q: Queryable, ids: readonly number[], now: Date): Promise<void> {
  if (ids.length > 0)
    await q.query('UPDATE outbox SET published_at = $2 WHERE id = ANY($1::bigint[])', [
      ids,
      now.toISOString(),
    ])
}

export async function findEvents(
  q: Queryable,
  filter: {
    since?: Date
    fromOutboxId?: number
    types?: readonly string[]
    patientId?: string
    limit: number
  },
): Promise<OutboxEvent[]> {
  const { rows } = await q.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox
      WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::bigint IS NULL OR id >= $2) AND ($3::text[] IS NULL OR topic = ANY($3::text[]))
        AND ($4::text IS NULL OR COALESCE(patient_id::text, payload->>'patientId') = $4)
      ORDER BY id LIMIT $5`,
    [
      filter.since?.toISOString() ?? null,
      filter.fromOutboxId ?? null,
      filter.types ?? null,
      filter.patientId ?? null,
      filter.limit,
    ],
  )
  return rows.map(toEvent)
}

export async function eventsByOutboxIds(
  q: Queryable,
  ids: readonly number[],
): Promise<Map<number, OutboxEvent>> {
  if (ids.length === 0) return new Map()
  const { rows } = await q.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE id = ANY($1::bigint[])`,
    [ids],
  )
  return new Map(rows.map((r) => [Number(r.id), toEvent(r)]))
}

// ---- deliveries ----

export type DeliveryStatus = 'pending' | 'delivered' | 'withheld' | 'dead'

export interface Delivery {
  readonly id: number
  readonly destination: string
  readonly subscriptionId: string | null
  readonly outboxId: number
  readonly eventId: string
  readonly eventType: string
  readonly orderKey: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly nextAttemptAt: Date
  readonly lastStatus: number | null
  readonly lastError: string | null
  readonly eventCreatedAt: Date
  readonly createdAt: Date
  readonly finishedAt: Date | null
  /** FHIR subscriptions: the event's number in its subscription (1, 2, …). */
  readonly eventNumber: number | null
}

interface DeliveryRow {
  id: number
  destination: string
  subscription_id: string | null
  outbox_id: number
  event_id: string
  event_type: string
  order_key: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: Date | string
  last_status: number | null
  last_error: string | null
  event_created_at: Date | string
  created_at: Date | string
  finished_at: Date | string | null
  event_number: number | string | null
}

const DELIVERY_COLUMNS =
  'id, destination, subscription_id, outbox_id, event_id, event_type, order_key, status, attempts, next_attempt_at, last_status, last_error, event_created_at, created_at, finished_at, event_number'

const toDelivery = (r: DeliveryRow): Delivery => ({
  id: Number(r.id),
  destination: r.destination,
  subscriptionId: r.subscription_id,
  outboxId: Number(r.outbox_id),
  eventId: r.event_id,
  eventType: r.event_type,
  orderKey: r.order_key,
  status: r.status,
  attempts: Number(r.attempts),
  nextAttemptAt: date(r.next_attempt_at),
  lastStatus: r.last_status === null ? null : Number(r.last_status),
  lastError: r.last_error,
  eventCreatedAt: date(r.event_created_at),
  createdAt: date(r.created_at),
  finishedAt: r.finished_at === null ? null : date(r.finished_at),
  eventNumber: r.event_number === null ? null : Number(r.event_number),
})

export interface NewDelivery {
  readonly destination: string
  readonly subscriptionId: string | null
  readonly event: OutboxEvent
  readonly eventNumber?: number | undefined
}

export async function insertDeliveries(
  q: Queryable,
  deliveries: readonly NewDelivery[],
  now: Date,
): Promise<void> {
  if (deliveries.length === 0) return
  await q.query(
    `INSERT INTO event_deliveries (destination, subscription_id, outbox_id, event_id, event_type, order_key, event_created_at, next_attempt_at, created_at, event_number)
     SELECT d.destination, d.subscription_id, d.outbox_id, d.event_id, d.event_type, d.order_key, d.event_created_at, $8, $8, d.event_number
       FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[], $9::bigint[])
            AS d(destination, subscription_id, outbox_id, event_id, event_type, order_key, event_created_at, event_number)
     ON CONFLICT (destination, outbox_id) DO NOTHING`,
    [
      deliveries.map((d) => d.destination),
      deliveries.map((d) => d.subscriptionId),
      deliveries.map((d) => d.event.outboxId),
      deliveries.map((d) => d.event.eventId),
      deliveries.map((d) => d.event.type),
      deliveries.map((d) => d.event.patientId ?? d.event.eventId),
      deliveries.map((d) => d.event.createdAt.toISOString()),
      now.toISOString(),
      deliveries.map((d) => d.eventNumber ?? null),
    ],
  )
}

/**
 * Claims the deliveries due now that head their (destination, ordering key) queue: per patient
 * and destination, the oldest pending delivery only, so a later event never overtakes an earlier
 * one that is still being retried. The claim (claimed_until) keeps a second relay off them.
 */
export async function claimDue(
  q: Queryable,
  now: Date,
  claimForMs: number,
  limit: number,
): Promise<Delivery[]> {
  const { rows } = await q.query<DeliveryRow>(
    `UPDATE event_deliveries SET claimed_until = $2
      WHERE id IN (
        SELECT d.id FROM event_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until < $1)
           AND NOT EXISTS (SELECT 1 FROM event_deliveries e WHERE e.status = 'pending' AND e.destination = d.destination AND e.order_key = d.order_key AND e.id < d.id)
         ORDER BY d.id LIMIT $3
         FOR UPDATE SKIP LOCKED)
      RETURNING ${DELIVERY_COLUMNS}`,
    [now.toISOString(), new Date(now.getTime() + claimForMs).toISOString(), limit],
  )
  return rows.map(toDelivery).sort((a, b) => a.id - b.id)
}

export async function finishDelivery(
  q: Queryable,
  id: number,
  outcome: {
    status: 'delivered' | 'withheld' | 'dead'
    httpStatus?: number | undefined
    error?: string | undefined
    countAttempt: boolean
  },
  now: Date,
): Promise<void> {
  await q.query(
    `UPDATE event_deliveries SET status = $2, attempts = attempts + $3, last_status = COALESCE($4, last_status), last_error = $5, finished_at = $6, claimed_until = NULL WHERE id = $1`,
    [
      id,
      outcome.status,
      outcome.countAttempt ? 1 : 0,
      outcome.httpStatus ?? null,
      outcome.error?.slice(0, 500) ?? null,
      now.toISOString(),
    ],
  )
}

export async function retryDelivery(
  q: Queryable,
  id: number,
  next: Date,
  outcome: { httpStatus?: number | undefined; error?: string | undefined },
): Promise<void> {
  await q.query(
    'UPDATE event_deliveries SET attempts = attempts + 1, next_attempt_at = $2, last_status = $3, last_error = $4, claimed_until = NULL WHERE id = $1',
    [id, next.toISOString(), outcome.httpStatus ?? null, outcome.error?.slice(0, 500) ?? null],
  )
}

/** Every pending delivery of a subscription that was switched off: dead-lettered (re-drivable). */
export async function deadLetterSubscription(
  q: Queryable,
  subscriptionId: string,
  reason: string,
  now: Date,
): Promise<void> {
  await q.query(
    "UPDATE event_deliveries SET status = 'dead', last_error = $2, finished_at = $3, claimed_until = NULL WHERE subscription_id = $1 AND status = 'pending'",
    [subscriptionId, reason, now.toISOString()],
  )
}

export async function listDeliveries(
  q: Queryable,
  filter: { status?: DeliveryStatus; subscriptionId?: string; limit: number },
): Promise<Delivery[]> {
  const { rows } = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM event_deliveries WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR subscription_id = $2) ORDER BY id DESC LIMIT $3`,
    [filter.status ?? null, filter.subscriptionId ?? null, filter.limit],
  )
  return rows.map(toDelivery)
}

/** Puts dead deliveries back in the queue with a fresh retry window (counted from now). */
export async function redrive(
  q: Queryable,
  filter: { ids?: readonly number[]; subscriptionId?: string },
  now: Date,
): Promise<number> {
  const { rowCount } = await q.query(
    `UPDATE event_deliveries SET status = 'pending', next_attempt_at = $3, event_created_at = $3, finished_at = NULL, claimed_until = NULL, last_error = NULL
      WHERE status = 'dead' AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) AND ($2::uuid IS NULL OR subscription_id = $2)`,
    [filter.ids ?? null, filter.subscriptionId ?? null, now.toISOString()],
  )
  return rowCount
}

/** Queues past events again for one destination (a replay): new delivery rows, the same event ids. */
export async function replay(
  q: Queryable,
  destination: string,
  subscriptionId: string | null,
  events: readonly OutboxEvent[],
  now: Date,
): Promise<number> {
  if (events.length === 0) return 0
  // A replayed event may already have a (finished) row for this destination: reopen it.
  const { rowCount } = await q.query(
    `UPDATE event_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3, event_created_at = $3, finished_at = NULL, claimed_until = NULL, last_error = NULL
      WHERE destination = $1 AND outbox_id = ANY($2::bigint[]) AND status <> 'pending'`,
    [destination, events.map((e) => e.outboxId), now.toISOString()],
  )
  await insertDeliveries(
    q,
    events.map((event) => ({ destination, subscriptionId, event })),
    now,
  )
  return rowCount + 0
}

export interface DeliveryCounts {
  readonly pending: number
  readonly delivered: number
  readonly withheld: number
  readonly dead: number
  readonly retrying: number
  readonly unpublished: number
}

export async function counts(q: Queryable): Promise<DeliveryCounts> {
  const { rows } = await q.query<{ status: string; n: number | string; retrying: number | string }>(
    'SELECT status, count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS retrying FROM event_deliveries GROUP BY status',
  )
  const { rows: outbox } = await q.query<{ n: number | string }>(
    'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL',
  )
  const by = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0)
  return {
    pending: by('pending'),
    delivered: by('delivered'),
    withheld: by('withheld'),
    dead: by('dead'),
    retrying: Number(rows.find((r) => r.status === 'pending')?.retrying ?? 0),
    unpublished: Number(outbox[0]?.n ?? 0),
  }
}

/** Deletes finished deliveries and fanned-out outbox rows older than the cutoff (dead rows stay until re-driven or deleted with their subscription). */
export async function prune(q: Queryable, cutoff: Date): Promise<{ deliveries: number; events: number }> {
  const { rowCount: deliveries } = await q.query(
    "DELETE FROM event_deliveries WHERE status IN ('delivered', 'withheld') AND finished_at < $1",
    [cutoff.toISOString()],
  )
  const { rowCount: events } = await q.query(
    `DELETE FROM outbox o WHERE o.published_at IS NOT NULL AND o.published_at < $1
        AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.outbox_id = o.id AND d.status IN ('pending', 'dead'))`,
    [cutoff.toISOString()],
  )
  return { deliveries, events }
}

/** Numbers the next `count` events of a FHIR subscription; returns the first number. */
export async function reserveEventNumbers(
  q: Queryable,
  subscriptionId: string,
  count: number,
): Promise<number> {
  const { rows } = await q.query<{ n: number | string }>(
    'UPDATE event_subscriptions SET events_since_start = events_since_start + $2 WHERE id = $1 RETURNING events_since_start AS n',
    [subscriptionId, count],
  )
  return Number(rows[0]?.n ?? count) - count + 1
}

export async function markNotified(q: Queryable, subscriptionId: string, now: Date): Promise<void> {
  await q.query('UPDATE event_subscriptions SET last_notified_at = $2 WHERE id = $1', [
    subscriptionId,
    now.toISOString(),
  ])
}

/** Active FHIR subscriptions with a heartbeat that nothing was sent to for a whole period. */
export async function heartbeatsDue(q: Queryable, now: Date): Promise<Subscription[]> {
  const { rows } = await q.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM event_subscriptions
      WHERE kind = 'fhir' AND status = 'active' AND heartbeat_seconds IS NOT NULL
        AND COALESCE(last_notified_at, created_at) + make_interval(secs => heartbeat_seconds) <= $1`,
    [now.toISOString()],
  )
  return rows.map(toSubscription)
}

/** A FHIR subscription's deliveries by event number (for $events), with their outbox rows when still kept. */
export async function deliveriesByNumber(
  q: Queryable,
  subscriptionId: string,
  from: number,
  to: number,
): Promise<Delivery[]> {
  const { rows } = await q.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM event_deliveries WHERE subscription_id = $1 AND event_number BETWEEN $2 AND $3 ORDER BY event_number LIMIT 1000`,
    [subscriptionId, from, to],
  )
  return rows.map(toDelivery)
}

/** One outbox row, written in the transaction of the change it reports (ADR-0020). */
export async function insertOutboxEvent(
  q: Queryable,
  e: { topic: string; payload: Record<string, unknown>; patientId: string },
  now: Date,
): Promise<void> {
  await q.query('INSERT INTO outbox (topic, payload, patient_id, created_at) VALUES ($1, $2, $3, $4)', [
    e.topic,
    JSON.stringify(e.payload),
    e.patientId,
    now.toISOString(),
  ])
}

/** The schema the outbox lives in (the relay's lock is keyed by it). */
export async function currentSchema(q: Queryable): Promise<string> {
  return (await q.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s ?? 'public'
}

// The relay's leader lock lives on a connection of its own (leader-lock.ts), not the pool.

/** The server notices a vanished holder within ~10 s rather than the kernel's default hours. */
export async function prepareRelaySession(c: pg.Client): Promise<void> {
  await c.query(
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET application_name = 'vigil-outbox-relay'",
  )
}

/** Throws when the lock's connection is gone. */
export async function pingRelaySession(c: pg.Client): Promise<void> {
  await c.query('SELECT 1')
}

/** A session-level advisory lock on (lockClass, hashtext(schema)); true when taken. */
export async function tryRelayLock(c: pg.Client, lockClass: number, schema: string): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
    lockClass,
    schema,
  ])
  return rows[0]?.ok === true
}
