// One audit entry per HTTP request (SRS §Product contract: every access, login and denial leaves one), written
// from onResponse so 401, 403, 404, 429 and 5xx answers are recorded like successes. Only the
// operational probes (/health/*, /metrics) are left out: orchestrators and Prometheus poll them
// every few seconds, carry no user and touch no health data, and would drown the trail (ADR-0006).
// Never the query string, headers other than the user agent, or the body.
//
// The entry is written after the response has gone: a failed write cannot fail a request that
// already answered, so it is logged loudly (identifiers only) and counted
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
import type { Queryable } from '../platform/db/index.ts'

/** The request decorations this hook reads (set by security/policy's route access). */
interface AccessContext {
  principal?: { kind: 'user' | 'device' | 'client'; id: string; clientId: string | undefined } | null
  decision?: { effect: string; rule: string; conceal?: boolean; consentId?: string; breakGlass?: boolean; patientId?: string } | null
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
    auditInTransaction(tx: Queryable, entry: { status: number } & Partial<Pick<AuditEntryInput, 'action' | 'resourceType' | 'resourceId' | 'patientId' | 'consentId' | 'breakGlass'>>): Promise<void>
    auditWritten: boolean
  }
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
}

export function registerHttpAudit(app: FastifyInstance, options: AuditHttpOptions): void {
  const failures = new Counter({
    name: 'vigil_audit_write_failures_total',
    help: 'Audit entries that could not be written (alert on any increase).',
    registers: options.registry ? [options.registry] : [],
  })
  const pending = new Set<Promise<unknown>>()

  app.decorateRequest('auditWritten', false)
  app.decorateRequest('auditInTransaction', async function (this: FastifyRequest, tx: Queryable, entry) {
    const base = requestEntry(this, { statusCode: entry.status } as FastifyReply)
    const { status, ...overrides } = entry
    await options.audit.record({ ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)), status, outcome: outcomeFor(status, false) }, tx)
    this.auditWritten = true
  })
  // A handler that failed after writing its entry rolled its transaction back: the entry went with it.
  app.addHook('onError', async (request) => {
    request.auditWritten = false
  })

  app.addHook('onResponse', (request, reply, done) => {
    done() // the response is already sent; nothing waits on the write
    if (isOperationalProbe(request.routeOptions.url)) return
    if (request.auditWritten) return
    const write = options.audit
      .record(requestEntry(request, reply))
      .catch((err: unknown) => {
        failures.inc()
        options.logger.error({ requestId: request.id, err: { message: err instanceof Error ? err.message : String(err) } }, 'audit entry could not be written')
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
          options.logger.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'audit checkpoint failed')
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
