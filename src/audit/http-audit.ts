// One audit entry per HTTP request (SRS §Product contract: every access, login and denial leaves one), written
// from onResponse so 401, 403, 404, 429 and 5xx answers are recorded like successes. Only the
// operational probes (/health/*, /metrics) are left out: orchestrators and Prometheus poll them
// every few seconds, carry no user and touch no health data, and would drown the trail (ADR-0006).
// Never the query string, headers other than the user agent, or the body.
//
// A successful read (GET) is recorded BEFORE its body leaves (onSend): if the entry cannot be
// written, the caller gets 503 and no data — a read that left no trace is a disclosure no one can
// account for (issue 15). Its entry names every patient whose data the response carries: the one
// the policy decided on, those a handler declares (request.carriesPatients), and any the response
// body names (a `patientId`, a FHIR `Patient/<id>` reference, a Patient resource). A response
// carrying several patients leaves one entry per patient, each with the grounds the policy gives
// for that patient — as IHE BALP records a query that returns several patients — so a patient's
// access report (their accounting of disclosures) finds every search and list that showed them.
//
// Every other entry is written after the response has gone: a failed write cannot fail a request
// that already answered, so it is logged loudly (identifiers only) and counted
// (vigil_audit_write_failures_total) for alerting. Writes of health data record their own entry in
// their transaction (AuditTrail.record(entry, tx)) and fail closed.

import { isOperationalProbe } from '../platform/http/probes.ts'
import { trace } from '@opentelemetry/api'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Counter, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { AuditTrail } from './audit-trail.ts'
import type { CheckpointSigner } from './checkpoint-key.ts'
import type { AuditEntryInput, Outcome } from './entry.ts'
import type { Database, Queryable } from '../platform/db/index.ts'
import { AppError } from '../platform/http/errors.ts'
import type { Principal } from '../security/authn/index.ts'
import { scopeDecisionOf, type PolicyDecisionPoint } from '../security/policy/index.ts'
import { categoryOf } from '../security/policy/rules.ts'

/** The request decorations this hook reads (set by security/policy's route access). */
interface AccessContext {
  principal?: { kind: 'user' | 'device' | 'client'; id: string; clientId: string | undefined } | null
  decision?: {
    effect: string
    rule: string
    conceal?: boolean
    consentId?: string
    breakGlass?: boolean
    patientId?: string
  } | null
  auditResourceId?: string | null
}

export { isOperationalProbe }

export function outcomeFor(status: number, deniedByPolicy: boolean): Outcome {
  if (status >= 500) return 'error'
  if (status === 401 || status === 403 || status === 429 || (deniedByPolicy && status >= 400)) return 'denied'
  if (status >= 400) return 'failure'
  return 'success'
}

export function requestEntry(request: FastifyRequest, reply: FastifyReply): AuditEntryInput {
  const { principal, decision, auditResourceId } = request as unknown as AccessContext
  const route = request.routeOptions.url
  const policy = request.routeOptions.config?.policy
  const ua = request.headers['user-agent']
  return {
    actorKind: principal?.kind ?? 'anonymous',
    actorId: principal?.id ?? null,
    clientId: principal?.clientId ?? null,
    ip: request.ip,
    userAgent: typeof ua === 'string' ? ua : null,
    // The route pattern, never the raw URL: no query string, no identifiers typed into a path.
    action: policy ?? `${request.method} ${route ?? '(unmatched)'}`,
    resourceType: policy ? (policy.split('.')[0] ?? null) : null,
    resourceId: auditResourceId ?? null,
    patientId: decision?.patientId ?? null,
    breakGlass: decision?.breakGlass === true,
    outcome: outcomeFor(reply.statusCode, decision?.effect === 'deny'),
    status: reply.statusCode,
    decisionRule: decision?.rule ?? null,
    consentId: decision?.consentId ?? null,
    requestId: request.id,
    traceId: trace.getActiveSpan()?.spanContext().traceId ?? null,
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Writes this request's one audit entry inside the caller's transaction (a write of health
     * data, a consent change, a break-glass session): the change and its entry commit together,
     * and the entry written after the response is skipped. Status is the one the handler will
     * answer; if the transaction rolls back, the request's error response is audited as usual.
     */
    auditInTransaction(
      tx: Queryable,
      entry: { status: number } & Partial<
        Pick<
          AuditEntryInput,
          'action' | 'resourceType' | 'resourceId' | 'patientId' | 'consentId' | 'breakGlass'
        >
      >,
    ): Promise<void>
    /**
     * This request's one entry, built but not written, for a use case that appends it in a
     * statement of its own (group commit, ADR-0036); it sets `auditWritten` once that committed.
     */
    auditEntry(
      entry: { status: number } & Partial<
        Pick<
          AuditEntryInput,
          'action' | 'resourceType' | 'resourceId' | 'patientId' | 'consentId' | 'breakGlass'
        >
      >,
    ): AuditEntryInput
    auditWritten: boolean
    /** Names patients whose data this response carries, for its audit entries (lists and searches). */
    carriesPatients(ids: Iterable<string>): void
    auditPatients: Set<string> | null
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const PATIENT_REFERENCE = /^Patient\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i

const UUID_LENGTH = 36
const PATIENT_REFERENCE_LENGTH = 'Patient/'.length + UUID_LENGTH

/**
 * The patients a response body names: `patientId` fields, FHIR `Patient/<id>` references and
 * Patient resources. Every response is walked, so the walk allocates nothing per object and
 * tests a string's length before its pattern (a `Device/…` reference never reaches the regex).
 */
export function patientsNamedIn(body: unknown, into: Set<string> = new Set()): Set<string> {
  const stack: unknown[] = [body]
  let visited = 0
  while (stack.length > 0 && visited < 1_000_000) {
    const node = stack.pop()
    visited++
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i]
        if (item !== null && typeof item === 'object') stack.push(item)
      }
      continue
    }
    if (node === null || typeof node !== 'object') continue
    const o = node as Record<string, unknown>
    const patientId = o.patientId
    if (typeof patientId === 'string' && patientId.length === UUID_LENGTH && UUID.test(patientId))
      into.add(patientId.toLowerCase())
    const reference = o.reference
    if (typeof reference === 'string' && reference.length === PATIENT_REFERENCE_LENGTH) {
      const m = PATIENT_REFERENCE.exec(reference)
      if (m?.[1]) into.add(m[1].toLowerCase())
    }
    const id = o.id
    if (o.resourceType === 'Patient' && typeof id === 'string' && id.length === UUID_LENGTH && UUID.test(id))
      into.add(id.toLowerCase())
    for (const key in o) {
      const value = o[key]
      if (value !== null && typeof value === 'object' && Object.hasOwn(o, key)) stack.push(value)
    }
  }
  return into
}

export interface AuditHttpOptions {
  readonly audit: AuditTrail
  readonly logger: Pick<Logger, 'error' | 'info'>
  readonly registry?: Registry
  /** Periodic checkpoints (seconds; 0 = none), signed by the key loadSigner returns. */
  readonly checkpointIntervalSeconds?: number
  readonly loadSigner?: () => Promise<CheckpointSigner>
  /** With several instances, the periodic checkpoint is made by the one that claims the period (ADR-0017). */
  readonly claim?: ((job: string, periodSeconds: number) => Promise<boolean>) | undefined
  /** The grounds (rule, consent, break-glass) of each further patient a read carries. */
  readonly pdp?: Pick<PolicyDecisionPoint, 'decide'>
  /** Where a read's several entries are written in one transaction. */
  readonly db?: Pick<Database, 'transaction'>
}

export function registerHttpAudit(app: FastifyInstance, options: AuditHttpOptions): void {
  const failures = new Counter({
    name: 'vigil_audit_write_failures_total',
    help: 'Audit entries that could not be written (alert on any increase).',
    registers: options.registry ? [options.registry] : [],
  })
  const pending = new Set<Promise<unknown>>()

  app.decorateRequest('auditWritten', false)
  app.decorateRequest('auditEntry', function (this: FastifyRequest, entry) {
    const base = requestEntry(this, { statusCode: entry.status } as FastifyReply)
    const { status, ...overrides } = entry
    return {
      ...base,
      ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
      status,
      outcome: outcomeFor(status, false),
    }
  })
  app.decorateRequest('auditInTransaction', async function (this: FastifyRequest, tx: Queryable, entry) {
    await options.audit.record(this.auditEntry(entry), tx)
    this.auditWritten = true
  })
  // A handler that failed after writing its entry rolled its transaction back: the entry went with it.
  app.addHook('onError', async (request) => {
    request.auditWritten = false
  })

  app.decorateRequest('auditPatients', null)
  app.decorateRequest('carriesPatients', function (this: FastifyRequest, ids: Iterable<string>) {
    this.auditPatients ??= new Set()
    for (const id of ids) this.auditPatients.add(id.toLowerCase())
  })
  // The patients a patient-data answer carries, read from the object before it is serialised.
  app.addHook('preSerialization', async (request, reply, payload) => {
    const policy = request.routeOptions.config?.policy
    if (policy === undefined || categoryOf(policy) === undefined || reply.statusCode >= 300) return payload
    request.auditPatients ??= new Set()
    patientsNamedIn(payload, request.auditPatients)
    return payload
  })

  /** The read's entries: one, or one per patient carried, each with that patient's grounds. */
  async function recordRead(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const base = requestEntry(request, reply)
    const decided = base.patientId?.toLowerCase() ?? null
    const carried = new Set(request.auditPatients ?? [])
    if (decided) carried.add(decided)
    if (carried.size === 0) {
      await options.audit.record(base)
      return
    }
    const principal = request.principal as Principal | null
    const policy = request.routeOptions.config?.policy as string
    const entries: AuditEntryInput[] = []
    for (const patientId of [...carried].sort()) {
      // The object-level decision already names its patient's grounds; any other patient carried
      // (a list or search) has the permit that let them into the search's scope, or else its own
      // decision, so the entry says why this patient's data left.
      if (patientId === decided) {
        entries.push(base)
        continue
      }
      const decision =
        scopeDecisionOf(request, policy, patientId) ??
        (principal && options.pdp
          ? await options.pdp.decide(
              principal,
              policy,
              { type: policy.split('.')[0] ?? policy, patientId },
              { requestId: request.id, ip: request.ip, now: new Date() },
            )
          : null)
      entries.push({
        ...base,
        patientId,
        decisionRule: decision?.rule ?? base.decisionRule,
        consentId: decision?.consentId ?? null,
        breakGlass: decision?.breakGlass === true,
      })
    }
    if (entries.length === 1) {
      await options.audit.record(entries[0] as AuditEntryInput)
      return
    }
    // One request's entries in one transaction: all are recorded, or the read fails.
    if (options.db) {
      await options.db.transaction(async (tx) => {
        for (const e of entries) await options.audit.record(e, tx)
      })
    } else {
      for (const e of entries) await options.audit.record(e)
    }
  }

  // A successful read is on the trail before its body leaves; if it cannot be, nothing leaves.
  app.addHook('onSend', async (request, reply, payload) => {
    if (
      (request.method !== 'GET' && !request.url.includes('/_search')) ||
      request.auditWritten ||
      reply.statusCode >= 300
    )
      return payload
    if (request.routeOptions.config?.policy === undefined || request.principal === null) return payload
    try {
      await recordRead(request, reply)
      request.auditWritten = true
    } catch (err) {
      failures.inc()
      options.logger.error(
        { requestId: request.id, err: { message: err instanceof Error ? err.message : String(err) } },
        'audit entry of a read could not be written; the response was withheld',
      )
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        'The access could not be recorded, so nothing was sent. Try again shortly.',
      )
    }
    return payload
  })

  app.addHook('onResponse', (request, reply, done) => {
    done() // the response is already sent; nothing waits on the write
    if (isOperationalProbe(request.routeOptions.url)) return
    if (request.auditWritten) return
    const write = options.audit
      .record(requestEntry(request, reply))
      .catch((err: unknown) => {
        failures.inc()
        options.logger.error(
          { requestId: request.id, err: { message: err instanceof Error ? err.message : String(err) } },
          'audit entry could not be written',
        )
      })
      .finally(() => pending.delete(write))
    pending.add(write)
  })

  let timer: NodeJS.Timeout | undefined
  const seconds = options.checkpointIntervalSeconds ?? 0
  if (seconds > 0 && options.loadSigner) {
    const loadSigner = options.loadSigner
    let signer: Promise<CheckpointSigner> | undefined
    let running: Promise<unknown> | undefined
    timer = setInterval(() => {
      if (running) return // the previous one is still going
      const claim = options.claim
      running = (claim ? claim('audit-checkpoint', seconds) : Promise.resolve(true))
        .then(async (mine) => (mine ? options.audit.checkpoint(await (signer ??= loadSigner())) : undefined))
        .catch((err: unknown) => {
          signer = undefined
          options.logger.error(
            { err: { message: err instanceof Error ? err.message : String(err) } },
            'audit checkpoint failed',
          )
        })
        .finally(() => {
          pending.delete(running as Promise<unknown>)
          running = undefined
        })
      pending.add(running)
    }, seconds * 1000)
    timer.unref()
  }

  // Shutdown and tests: entries still being written finish before the database closes.
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer)
    await Promise.allSettled([...pending])
  })
}
