// /api/v2/device-data — the current contract (ADR-0010): a batch of 1–1000 readings per request,
// safe to retry (Idempotency-Key, dedup keys), all-or-nothing on invalid input; and the query.

import type { Static } from 'typebox'
import { AppError, type ProblemFieldError } from '../../platform/http/errors.ts'
import { problemResponse as problem } from '../../platform/http/problem.ts'
import type { Principal } from '../../security/authn/index.ts'
import type { ModuleContext } from '../context.ts'
import type { DeviceRateLimiter } from './device-rate-limit.ts'
import { requestHash, type Ingest, type IngestResult } from './ingest.ts'
import { readPage, timeBound } from './query-readings.ts'
import { BatchResult, IdempotencyHeaders, PostReadings, ReadingPage, ReadingsQuery } from './schema.v2.ts'
import { validateReading, type ValidReading } from './validate-reading.ts'
import { authorizeWriter } from './writer.ts'
import type { RoutePlugin } from '../../platform/http/typed-routes.ts'

export function presentBatch(result: IngestResult): { status: number; body: unknown } {
  return { status: 200, body: result }
}

export function deviceDataV2Plugin(
  ctx: ModuleContext,
  deps: { ingest: Ingest; limiter: DeviceRateLimiter },
): RoutePlugin {
  return async function deviceDataV2(app) {
    const tags = ['Device data']

    app.post(
      '/device-data',
      {
        config: { policy: 'device-data.write' },
        schema: {
          tags,
          summary: 'Send a batch of 1 to 1000 readings; one outcome per reading',
          description:
            'All or nothing on invalid input: a reading that fails the schema or the checks (unknown code, wrong unit, implausible value, time without offset or in the future) ' +
            'answers 400 naming every bad reading by its index, and nothing of the request is stored. Duplicates are reported, not errors; a reading whose key is taken by a ' +
            'different reading is rejected as a conflict and not stored. With an Idempotency-Key, a retry replays the first answer (header Idempotent-Replayed: true).',
          headers: IdempotencyHeaders,
          body: PostReadings,
          response: {
            200: BatchResult,
            404: problem('The patient is not one this caller may write for (concealed)'),
            409: problem('The device is not bound to a patient'),
            422: problem('The Idempotency-Key was already used for a different request'),
            429: problem('Too many requests from this device, or its daily quota is used (Retry-After)'),
          },
        },
      },
      async (request, reply) => {
        const body = request.body
        const principal = request.principal as Principal
        if (principal.kind === 'device') await deps.limiter.check(principal.id)
        const writer = await authorizeWriter(request, body.patientId)
        const now = ctx.clock()
        const errors: ProblemFieldError[] = []
        const readings: ValidReading[] = []
        body.readings.forEach((r, i) => {
          const v = validateReading({ ...r, clientId: r.id }, `/body/readings/${i}`, now, errors)
          if (v) readings.push(v)
        })
        if (errors.length > 0) {
          const indexes = [...new Set(errors.map((e) => Number(e.pointer.split('/')[3])))]
          throw new AppError(
            'VALIDATION_FAILED',
            `Readings at index ${indexes.join(', ')} are not valid; nothing was stored`,
            { errors },
          )
        }
        const key = request.headers['idempotency-key']
        const answer = await deps.ingest({
          principal: writer.principalKey,
          patientId: writer.patientId,
          deviceId: writer.deviceId,
          source: 'v2',
          readings,
          idempotency:
            typeof key === 'string'
              ? { key, requestHash: requestHash('POST /api/v2/device-data', writer.patientId, body) }
              : undefined,
          present: presentBatch,
          auditEntry: (status) =>
            request.auditEntry({ status, resourceType: 'device-data', patientId: writer.patientId }),
          audited: () => {
            request.auditWritten = true
          },
        })
        if (answer.replayed) {
          reply.header('idempotent-replayed', 'true')
          // A replay stored nothing: if this request lost an Idempotency-Key race, the entry it wrote
          // rolled back with its transaction, so its entry is written after the response as usual.
          request.auditWritten = false
        }
        // The body this route presented, or the one stored with the Idempotency-Key for a replay.
        return reply.code(answer.status as 200).send(answer.body as Static<typeof BatchResult>)
      },
    )

    app.get(
      '/device-data',
      {
        config: { policy: 'device-data.read' },
        schema: {
          tags,
          summary: "A patient's readings by code and time, oldest first, a page at a time",
          querystring: ReadingsQuery,
          response: {
            200: ReadingPage,
            404: problem('No such patient, or not one this caller may read (concealed)'),
          },
        },
      },
      async (request) => {
        const q = request.query
        const principal = request.principal as Principal
        let patientIds: readonly string[]
        const own = principal.kind === 'user' ? (principal.patientId ?? undefined) : undefined
        const patient = q.patient ?? own
        if (patient !== undefined) {
          await request.authorize('device-data.read', { type: 'device-data', patientId: patient })
          patientIds = [patient]
        } else {
          const scope = await request.patientScope('device-data.read')
          patientIds = scope.kind === 'patients' ? scope.ids : []
        }
        const from = timeBound(q.from, 'from')
        const to = timeBound(q.to, 'to')
        if (patientIds.length === 0) return { readings: [], nextCursor: null }
        return readPage(
          { db: ctx.db, cipher: ctx.cipher, keyring: ctx.keyring },
          { patientIds, code: q.code, from, to, cursor: q.cursor, limit: q.limit ?? 100 },
        )
      },
    )
  }
}
