// Retention as a periodic job of the server (issue 12): every RETENTION_INTERVAL_SECONDS each
// instance ticks and claims the period on the one scheduler (scheduled_jobs, ADR-0017), so with any
// number of instances on a database retention runs once per period. The run is `vigil retention
// run`'s own (runRetention): it deletes readings and spent credentials past their retention,
// counts (never deletes) audit entries past theirs, and records one `retention.run` audit entry.
// A failed run (the database away) is logged and retried at the next period; nothing is held.

import type { ModuleContext } from '../context.ts'
import { runRetention, type RetentionReport } from './retention.ts'

export const RETENTION_JOB = 'retention'

export interface RetentionJob {
  /** Starts the timer; `intervalSeconds` 0 = off. */
  start(intervalSeconds: number): void
  stop(): Promise<void>
}

export function createRetentionJob(
  ctx: Pick<ModuleContext, 'db' | 'audit' | 'logger' | 'config' | 'jobs' | 'clock'>,
): RetentionJob {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<RetentionReport | undefined> | undefined

  const tick = (intervalSeconds: number) => {
    if (running) return // a run longer than the period: skip this tick
    running = (async () => {
      const mine = ctx.jobs ? await ctx.jobs.claim(RETENTION_JOB, intervalSeconds) : true
      if (!mine) return undefined
      const report = await runRetention({
        db: ctx.db,
        audit: ctx.audit,
        retention: ctx.config.retention,
        clock: ctx.clock,
      })
      // Counts only: no identifiers, no PHI.
      ctx.logger.info(
        {
          retention: {
            readings: report.readings,
            tokens: report.tokens,
            auditPastRetention: report.auditPastRetention,
          },
        },
        'retention run',
      )
      return report
    })()
      .catch((err: unknown) => {
        ctx.logger.error(
          { err: { message: err instanceof Error ? err.message : String(err) } },
          'retention run failed',
        )
        return undefined
      })
      .finally(() => {
        running = undefined
      })
  }

  return {
    start(intervalSeconds) {
      if (intervalSeconds <= 0 || timer) return
      timer = setInterval(() => tick(intervalSeconds), intervalSeconds * 1000)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      await running
    },
  }
}
