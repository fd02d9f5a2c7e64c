// Storing a batch of validated readings (ADR-0010), all in one transaction: the sealed readings,
// the quota count, the outbox row and the Idempotency-Key record commit together or not at all,
// and the caller answers 2xx only after COMMIT (SRS §Product contract: acknowledged writes survive a crash).
//
// Deduplication: a reading's key is (device, client id) when the device gave one, else (device,
// code, time to the millisecond, sequence) — the unique indexes of migration 0006. A reading whose
// key is taken is a duplicate when its content is the same (content_index, a keyed HMAC, equal),
// and a conflict — reported, never stored, never silently dropped — when it differs.

import { createHash, randomUUID } from 'node:crypto'
import { appendEntriesCtes, type AuditEntryInput, type AuditTrail } from '../../audit/index.ts'
import type { Keyring } from '../../platform/crypto/keyring.ts'
import { findDatabaseUnavailable, type Database, type Queryable } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { PatientCipher } from '../patients/index.ts'
import { contentIndexText, sealReadings } from './reading-content.ts'
import * as repo from './repository.ts'
import type { ValidReading } from './validate-reading.ts'

export type Outcome =
  | { readonly index: number; readonly outcome: 'created'; readonly id: string; readonly clientId?: string }
  | { readonly index: number; readonly outcome: 'duplicate'; readonly id: string; readonly clientId?: string }
  | {
      readonly index: number
      readonly outcome: 'rejected'
      readonly reason: 'conflict'
      readonly conflictsWith: string
      readonly detail: string
      readonly clientId?: string
    }

export interface IngestResult {
  readonly created: number
  readonly duplicates: number
  readonly rejected: number
  readonly results: readonly Outcome[]
}

export interface IngestRequest {
  /** Who posts, for the Idempotency-Key scope ("device:<id>", "user:<id>"). */
  readonly principal: string
  readonly patientId: string
  /** null for a reading entered by a user (deduplicated by Idempotency-Key only). */
  readonly deviceId: string | null
  readonly source: 'v1' | 'v2'
  readonly readings: readonly ValidReading[]
  readonly idempotency?: { readonly key: string; readonly requestHash: string } | undefined
  /** Shapes the HTTP answer stored under the Idempotency-Key. */
  readonly present: (result: IngestResult) => { status: number; body: unknown }
  /**
   * The request's audit entry for the status it will answer, built but not written: the ingest
   * writes it with the readings, in their transaction or their statement (ADR-0006, ADR-0036), so no
   * reading exists without its entry; then it calls `audited`.
   */
  readonly auditEntry: (status: number) => AuditEntryInput
  readonly audited: () => void
}

export interface IngestAnswer {
  readonly status: number
  readonly body: unknown
  readonly replayed: boolean
}

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000
export const OUTBOX_TOPIC = 'device-data.accepted'

/** Key-sorted JSON, undefined members left out. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/** The hash an Idempotency-Key's request is remembered by: route, patient and body, key order ignored. */
export function requestHash(route: string, patientId: string, body: unknown): string {
  return createHash('sha256').update(stableJson({ route, patientId, body })).digest('base64url')
}

const dedupKey = (
  deviceId: string | null,
  r: { clientReadingId: string | null; code: string; effectiveAt: Date; sequence: number | null },
): string =>
  r.clientReadingId !== null
    ? `${deviceId}|c|${r.clientReadingId}`
    : `${deviceId}|t|${r.code}|${r.effectiveAt.getTime()}|${r.sequence ?? -1}`

/** Seconds until the next UTC midnight, when a device's daily quota starts again. */
export function secondsToUtcMidnight(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000))
}

class LostIdempotencyRace extends Error {}
/** A group met something other than every reading stored under quota: it rolls back, each request runs alone. */
class NotTheCommonOutcome extends Error {}

/** Group commit (ADR-0036): requests of at most this many readings are grouped (larger batches already share their fixed cost). */
export const GROUP_MAX_READINGS = 10
/** At most this many requests in one group. */
export const GROUP_MAX_REQUESTS = 64
/** Ingest writes (a group's statement or transaction) under way at once on one instance while requests wait to be grouped. */
export const GROUP_IN_FLIGHT = 2

/** The `device-data.accepted` event: identifiers only, never values. */
function outboxPayload(request: IngestRequest, readingIds: readonly string[]) {
  return {
    patientId: request.patientId,
    deviceId: request.deviceId,
    readingIds,
    count: readingIds.length,
    source: request.source,
  }
}

/** Every request's rows in device order: the count rows' locks are taken in one order by every transaction (ADR-0036). */
function byDevice(perRequest: readonly (readonly repo.ReadingRow[])[]): repo.ReadingRow[] {
  return perRequest
    .flat()
    .sort((a, b) =>
      (a.deviceId as string) < (b.deviceId as string) ? -1 : a.deviceId === b.deviceId ? 0 : 1,
    )
}

/** One `device-data.accepted` payload per request, naming that request's readings only. */
function outboxPayloads(
  group: readonly IngestRequest[],
  perRequest: readonly (readonly repo.ReadingRow[])[],
): unknown[] {
  return group.map((request, i) =>
    outboxPayload(
      request,
      (perRequest[i] as repo.ReadingRow[]).map((r) => r.id),
    ),
  )
}

export interface IngestDeps {
  readonly db: Database
  readonly cipher: PatientCipher
  readonly keyring: Keyring
  readonly clock: () => Date
  readonly defaultDailyQuota: number
  /** Group concurrent small device writes into shared transactions (INGEST_GROUP_COMMIT; ADR-0036). */
  readonly groupCommit?: boolean
  /** The audit trail: each request's entry is written with its readings (ADR-0006, ADR-0036). */
  readonly audit: Pick<AuditTrail, 'record' | 'prepareAppend'>
}

export function createIngest(deps: IngestDeps) {
  const { db, cipher, keyring, clock } = deps

  function replay(record: repo.IdempotencyRecord, hash: string): IngestAnswer {
    // RFC draft-ietf-httpapi-idempotency-key-header §2.7: the same key with another payload is refused.
    if (record.requestHash !== hash) throw new AppError('IDEMPOTENCY_KEY_REUSED')
    return { status: record.statusCode, body: record.responseBody, replayed: true }
  }

  /** The request's readings, sealed under its patient's data key, as the rows to insert. */
  async function sealedRows(tx: Queryable, request: IngestRequest, now: Date): Promise<repo.ReadingRow[]> {
    const { patientId, deviceId } = request
    const ids = request.readings.map(() => randomUUID())
    // One data-key fetch for the batch, then synchronous AES-GCM per reading.
    const sealed = await sealReadings(
      cipher,
      patientId,
      request.readings.map((r, i) => ({ id: ids[i] as string, content: r.content })),
      tx,
    )
    return request.readings.map((r, i) => {
      const key = dedupKey(deviceId, {
        clientReadingId: r.clientId,
        code: r.code,
        effectiveAt: r.effectiveAt,
        sequence: r.sequence,
      })
      return {
        id: ids[i] as string,
        patientId,
        deviceId,
        code: r.code,
        category: r.category,
        effectiveAt: r.effectiveAt,
        offsetMinutes: r.offsetMinutes,
        receivedAt: now,
        clientReadingId: r.clientId,
        sequence: r.sequence,
        valueSealed: sealed[i] as string,
        // Bound to the dedup key, so equal values under different keys do not show as equal.
        contentIndex: keyring.blindIndex(
          contentIndexText(key, r.offsetMinutes, r.content),
          'reading-content',
        ),
        source: request.source,
      }
    })
  }

  /** Each request's rows, sealed in request order. */
  async function sealedGroup(
    q: Queryable,
    group: readonly IngestRequest[],
    now: Date,
  ): Promise<repo.ReadingRow[][]> {
    const perRequest: repo.ReadingRow[][] = []
    for (const request of group) perRequest.push(await sealedRows(q, request, now))
    return perRequest
  }

  /** The request's entry, written in the transaction of its readings. */
  async function recordAudit(tx: Queryable, request: IngestRequest, status: number): Promise<void> {
    await deps.audit.record(request.auditEntry(status), tx)
    request.audited()
  }

  async function store(tx: Queryable, request: IngestRequest, now: Date): Promise<IngestResult> {
    const { deviceId } = request
    const rows = await sealedRows(tx, request, now)
    const day = now.toISOString().slice(0, 10)
    // A device's batch: the readings, its daily count and the outbox row in one statement (ADR-0029).
    const counted =
      deviceId !== null
        ? await repo.insertReadingsCounted(tx, rows, day, {
            topic: OUTBOX_TOPIC,
            payloads: outboxPayloads([request], [rows]),
            createdAt: now,
          })
        : undefined
    const inserted = counted ? counted.inserted : await repo.insertReadings(tx, rows)
    const skipped = rows.filter((r) => !inserted.has(r.id))
    const existing = new Map<string, repo.StoredKey>()
    if (skipped.length > 0 && deviceId !== null) {
      const found = await repo.findByDedupKeys(tx, deviceId, {
        clientIds: skipped.filter((r) => r.clientReadingId !== null).map((r) => r.clientReadingId as string),
        timed: skipped.filter((r) => r.clientReadingId === null),
      })
      for (const f of found) existing.set(dedupKey(deviceId, f), f)
    }
    const results: Outcome[] = rows.map((r, index) => {
      const clientId = r.clientReadingId !== null ? { clientId: r.clientReadingId } : {}
      if (inserted.has(r.id)) return { index, outcome: 'created', id: r.id, ...clientId }
      const stored = existing.get(dedupKey(deviceId, r))
      if (!stored) throw new Error('a skipped reading has no stored reading under its key')
      if (stored.contentIndex === r.contentIndex)
        return { index, outcome: 'duplicate', id: stored.id, ...clientId }
      return {
        index,
        outcome: 'rejected',
        reason: 'conflict',
        conflictsWith: stored.id,
        detail: 'a different reading is already stored under this key',
        ...clientId,
      }
    })
    const created = results.filter((r) => r.outcome === 'created').map((r) => (r as { id: string }).id)

    if (deviceId !== null && created.length > 0) {
      const usage =
        counted?.usage.get(deviceId) ?? (await repo.addDailyUsage(tx, deviceId, day, created.length))
      if (usage.used > (usage.quota ?? deps.defaultDailyQuota)) {
        throw new AppError(
          'RATE_LIMITED',
          "This device has used today's reading quota; retry after UTC midnight",
          {
            headers: { 'retry-after': String(secondsToUtcMidnight(now)) },
          },
        )
      }
    }
    // One event per accepted batch that stored something; identifiers only, never values.
    if (created.length > 0 && !counted?.outboxWritten)
      await repo.insertOutbox(tx, OUTBOX_TOPIC, outboxPayload(request, created), now)
    return {
      created: created.length,
      duplicates: results.filter((r) => r.outcome === 'duplicate').length,
      rejected: results.filter((r) => r.outcome === 'rejected').length,
      results,
    }
  }

  /** One request in a transaction of its own: every outcome (duplicates, conflicts, the quota, an Idempotency-Key). */
  async function ingestAlone(request: IngestRequest): Promise<IngestAnswer> {
    const now = clock()
    const idem = request.idempotency
    try {
      return await db.transaction(async (tx) => {
        if (idem) {
          const prior = await repo.findIdempotency(tx, request.principal, idem.key, now)
          if (prior) return replay(prior, idem.requestHash)
        }
        const result = await store(tx, request, now)
        const answer = request.present(result)
        await recordAudit(tx, request, answer.status)
        if (idem) {
          const saved = await repo.saveIdempotency(
            tx,
            request.principal,
            idem.key,
            { requestHash: idem.requestHash, statusCode: answer.status, responseBody: answer.body },
            now,
            new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
          )
          // A concurrent request with the same key committed first: roll ours back, answer as it did.
          if (!saved) throw new LostIdempotencyRace()
        }
        return { ...answer, replayed: false }
      })
    } catch (err) {
      if (!(err instanceof LostIdempotencyRace) || !idem) throw err
      const prior = await repo.findIdempotency(db, request.principal, idem.key, now)
      if (!prior)
        throw new AppError(
          'IDEMPOTENCY_KEY_IN_PROGRESS',
          'A request with this Idempotency-Key is still in progress; retry',
        )
      return replay(prior, idem.requestHash)
    }
  }

  /**
   * Several devices' requests in one transaction (group commit, ADR-0036), written for the common
   * outcome: every reading stored and every device under its quota. Anything else — a duplicate, a
   * conflict, a quota reached, an error — throws, the whole group rolls back, and each request runs
   * again alone, so one request's outcome never becomes another's.
   */
  async function ingestGroup(group: readonly IngestRequest[]): Promise<IngestAnswer[]> {
    const now = clock()
    return db.transaction(async (tx) => {
      const perRequest = await sealedGroup(tx, group, now)
      const rows = byDevice(perRequest)
      const stored = await repo.insertReadingsCounted(tx, rows, now.toISOString().slice(0, 10), {
        topic: OUTBOX_TOPIC,
        payloads: outboxPayloads(group, perRequest),
        createdAt: now,
      })
      if (stored.inserted.size !== rows.length) throw new NotTheCommonOutcome()
      for (const usage of stored.usage.values())
        if (usage.used > (usage.quota ?? deps.defaultDailyQuota)) throw new NotTheCommonOutcome()
      const answers = allCreated(group, perRequest)
      // Recorded in one tick, the entries go to the audit trail in one statement, in request order.
      await Promise.all(
        group.map((request, i) => recordAudit(tx, request, (answers[i] as IngestAnswer).status)),
      )
      return answers
    })
  }

  /** Each request's readings answered as all created: the answer the common outcome gives. */
  function allCreated(
    group: readonly IngestRequest[],
    perRequest: readonly repo.ReadingRow[][],
  ): IngestAnswer[] {
    return group.map((request, i): IngestAnswer => {
      const results: Outcome[] = (perRequest[i] as repo.ReadingRow[]).map((r, index) => ({
        index,
        outcome: 'created',
        id: r.id,
        ...(r.clientReadingId !== null ? { clientId: r.clientReadingId } : {}),
      }))
      return {
        ...request.present({ created: results.length, duplicates: 0, rejected: 0, results }),
        replayed: false,
      }
    })
  }

  /**
   * The group (one request or several) in one autocommit statement, audit entries included, on
   * the audit trail's guess of a chain's head (ADR-0036): no BEGIN, no COMMIT. Undefined with no
   * guess yet; otherwise the answers, or why the statement wrote nothing.
   */
  async function ingestInOneStatement(
    group: readonly IngestRequest[],
  ): Promise<IngestAnswer[] | 'not-common' | 'stale-head' | undefined> {
    const now = clock()
    const perRequest = await sealedGroup(db, group, now)
    const answers = allCreated(group, perRequest)
    const prepared = deps.audit.prepareAppend(
      group.map((request, i) => request.auditEntry((answers[i] as IngestAnswer).status)),
    )
    if (!prepared) return undefined
    let outcome: repo.AuditedInsert = 'not-common'
    try {
      outcome = await repo.insertReadingsAudited(
        db,
        byDevice(perRequest),
        now.toISOString().slice(0, 10),
        { topic: OUTBOX_TOPIC, payloads: outboxPayloads(group, perRequest), createdAt: now },
        deps.defaultDailyQuota,
        (params) => appendEntriesCtes(prepared.entries, params),
      )
    } finally {
      prepared.settle(outcome === 'written')
    }
    if (outcome !== 'written') return outcome
    for (const request of group) request.audited()
    return answers
  }

  // Group commit (ADR-0036): while GROUP_IN_FLIGHT writes are under way, the requests that arrive
  // wait and go together in the next one. A request that finds a free slot starts at once, as a
  // group of one, so an idle server adds no latency.
  const waiting: Array<{
    request: IngestRequest
    resolve: (answer: IngestAnswer) => void
    reject: (err: unknown) => void
  }> = []
  let inFlight = 0
  function pump(): void {
    while (inFlight < GROUP_IN_FLIGHT && waiting.length > 0) {
      const group = waiting.splice(0, GROUP_MAX_REQUESTS)
      inFlight++
      void runGroup(group).finally(() => {
        inFlight--
        pump()
      })
    }
  }
  // The ladder (ADR-0036): one statement on the guessed head; else, when the head was not known
  // or not the one guessed, one transaction that reads it under lock; else — a duplicate, a
  // conflict, a quota reached, a failure — each request alone, with the answer it would have had.
  // The database unavailable (down, frozen, timed out, circuit open) is the answer of every request
  // of the group, and of every request that waited behind it, at once: trying the next rung, or the
  // next group, would only wait out the same deadline again (a request waits at most one deadline).
  async function runGroup(group: typeof waiting): Promise<void> {
    const requests = group.map((w) => w.request)
    /** The database unavailable: `answered` (the group, unless said) and everyone waiting get it. */
    const unavailable = (err: unknown, answered: readonly (typeof waiting)[number][] = group) => {
      if (!findDatabaseUnavailable(err)) return false
      for (const w of [...answered, ...waiting.splice(0)]) w.reject(err)
      return true
    }
    let tried: Awaited<ReturnType<typeof ingestInOneStatement>> = 'not-common'
    try {
      tried = await ingestInOneStatement(requests)
    } catch (err) {
      if (unavailable(err)) return
      // Another failure of the statement: each request alone, below.
    }
    if (Array.isArray(tried)) {
      group.forEach((w, i) => w.resolve(tried[i] as IngestAnswer))
      return
    }
    if (tried !== 'not-common' && group.length > 1) {
      try {
        const answers = await ingestGroup(requests)
        group.forEach((w, i) => w.resolve(answers[i] as IngestAnswer))
        return
      } catch (err) {
        if (unavailable(err)) return
        // Not the common outcome, or another failure: each request alone, below.
      }
    }
    // Alone too, the database unavailable is also the answer of every request waiting behind.
    await Promise.all(
      group.map((w) =>
        ingestAlone(w.request).then(w.resolve, (err: unknown) => {
          if (!unavailable(err, [w])) w.reject(err)
        }),
      ),
    )
  }

  return async function ingest(request: IngestRequest): Promise<IngestAnswer> {
    const groupable =
      deps.groupCommit === true &&
      request.deviceId !== null &&
      request.idempotency === undefined &&
      request.readings.length <= GROUP_MAX_READINGS
    if (!groupable) return ingestAlone(request)
    return new Promise<IngestAnswer>((resolve, reject) => {
      waiting.push({ request, resolve, reject })
      pump()
    })
  }
}

export type Ingest = ReturnType<typeof createIngest>
