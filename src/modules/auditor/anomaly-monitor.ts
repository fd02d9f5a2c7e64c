// Runs the anomaly rules (audit/anomalies.ts) on a timer and on demand: stores each new security
// event once, logs it at warn (identifiers only), and POSTs it as JSON to the configured webhook.
// A failed delivery is logged and retried on the next run (delivered_at stays null). See the
// ADR-0006 addendum "Anomaly detection".

import type { Logger } from 'pino'
import { detectAnomalies, type AnomalyThresholds, type RaisedSecurityEvent } from '../../audit/anomalies.ts'
import type { Database } from '../../platform/db/index.ts'
import {
  claimUndelivered,
  markDelivered,
  releaseLease,
  type SecurityEventRecord,
} from './security-events.repository.ts'
import { presentSecurityEvent } from './security-event.presenter.ts'

export interface AnomalyMonitorDeps {
  readonly db: Database
  readonly logger: Pick<Logger, 'warn' | 'error' | 'info'>
  readonly clock: () => Date
  readonly thresholds: AnomalyThresholds
  readonly webhookUrl?: string | undefined
  /** Names this instance in webhook payloads. */
  readonly source: string
  readonly webhookTimeoutMs?: number
  /** With several instances, the scheduled run happens on the one that claims the period (ADR-0017). */
  readonly claim?: ((job: string, periodSeconds: number) => Promise<boolean>) | undefined
}

export interface RunReport {
  readonly raised: readonly RaisedSecurityEvent[]
  readonly delivered: number
  readonly deliveryFailures: number
}

export interface AnomalyMonitor {
  /** One detection and delivery run; concurrent calls on one instance share the run in progress. */
  run(): Promise<RunReport>
  /** Starts the timer (seconds; 0 = none). */
  start(intervalSeconds: number): void
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>
}

const DELIVERY_BATCH = 50

export function createAnomalyMonitor(deps: AnomalyMonitorDeps): AnomalyMonitor {
  const timeoutMs = deps.webhookTimeoutMs ?? 5_000
  let running: Promise<RunReport> | undefined
  let timer: NodeJS.Timeout | undefined

  async function deliver(event: SecurityEventRecord, url: string): Promise<boolean> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'vigil-security-events' },
        body: JSON.stringify({ source: deps.source, event: presentSecurityEvent(event) }),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      })
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) return true
      deps.logger.error(
        { securityEventId: event.id, status: res.status },
        'security event webhook refused the event; retried on the next run',
      )
    } catch (err) {
      deps.logger.error(
        { securityEventId: event.id, err: { message: err instanceof Error ? err.message : String(err) } },
        'security event webhook unreachable; retried on the next run',
      )
    }
    return false
  }

  async function deliverPending(url: string): Promise<{ delivered: number; failures: number }> {
    let delivered = 0
    let failures = 0
    const now = deps.clock()
    const claimed = await claimUndelivered(
      deps.db,
      now,
      new Date(now.getTime() + 2 * timeoutMs + 5_000),
      DELIVERY_BATCH,
    )
    for (const event of claimed) {
      if (await deliver(event, url)) {
        await markDelivered(deps.db, event.id, deps.clock())
        delivered++
      } else {
        await releaseLease(deps.db, event.id)
        failures++
      }
    }
    return { delivered, failures }
  }

  async function once(): Promise<RunReport> {
    const raised = await detectAnomalies(deps.db, { clock: deps.clock, thresholds: deps.thresholds })
    for (const e of raised) {
      // Identifiers only: the kind, the subject (an account, user or client id, or an address) and counts.
      deps.logger.warn(
        {
          securityEvent: {
            id: e.id,
            kind: e.kind,
            subject: e.subject,
            windowStart: e.windowStart.toISOString(),
            details: e.details,
          },
        },
        `security event: ${e.kind}`,
      )
    }
    const delivery = deps.webhookUrl ? await deliverPending(deps.webhookUrl) : { delivered: 0, failures: 0 }
    return { raised, delivered: delivery.delivered, deliveryFailures: delivery.failures }
  }

  const monitor: AnomalyMonitor = {
    run() {
      running ??= once().finally(() => {
        running = undefined
      })
      return running
    },
    start(intervalSeconds) {
      if (intervalSeconds <= 0 || timer) return
      timer = setInterval(() => {
        const claimed = deps.claim ? deps.claim('anomaly-scan', intervalSeconds) : Promise.resolve(true)
        claimed
          .then((mine) => (mine ? monitor.run() : undefined))
          .catch((err: unknown) =>
            deps.logger.error(
              { err: { message: err instanceof Error ? err.message : String(err) } },
              'anomaly detection run failed',
            ),
          )
      }, intervalSeconds * 1000)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      await running?.catch(() => undefined)
    },
  }
  return monitor
}
