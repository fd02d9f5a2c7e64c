// One scheduler for periodic jobs across every instance on a database (ADR-0017). Each instance
// ticks on its own timer; before running a job it claims the current period with one atomic
// statement on scheduled_jobs (insert, or update only if the last run is older than the period),
// so with any number of instances each job runs once per period. Nothing is held between runs:
// an instance killed mid-run leaves no lock behind, and the next period is claimed by whoever
// ticks first. (An advisory lock would need a connection pinned for the whole run, which the
// idle-in-transaction timeout and a database restart both break.)

import type { Queryable } from './database.ts'

export interface JobClaimer {
  /** True when this instance may run `job` now: it claimed the period of `periodSeconds`. */
  claim(job: string, periodSeconds: number): Promise<boolean>
}

/** A claim succeeds when the job last ran at least 80 % of a period ago: instances' timers drift. */
const CLAIM_FRACTION = 0.8

export function createJobClaimer(db: Queryable, instanceId: string | undefined): JobClaimer {
  return {
    async claim(job, periodSeconds) {
      const { rows } = await db.query<{ name: string }>(
        `INSERT INTO scheduled_jobs AS j (name, last_run_at, last_run_by) VALUES ($1, now(), $2)
         ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_run_by = $2
           WHERE j.last_run_at <= now() - make_interval(secs => $3)
         RETURNING name`,
        [job, instanceId ?? null, periodSeconds * CLAIM_FRACTION],
      )
      return rows.length === 1
    },
  }
}
