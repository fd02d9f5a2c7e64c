// Readiness runs a real query on the database, and pings Redis when one is configured; each
// check has a deadline so a hung dependency makes the probe fail rather than hang.

import type { Queryable } from '../../platform/db/index.ts'

export interface RedisPing {
  ping(): Promise<string>
}

/** degraded: an optional dependency (NATS) is unreachable; the service still serves, so it stays ready. */
export type CheckStatus = 'ok' | 'degraded' | 'down'

export interface Readiness {
  readonly ready: boolean
  readonly checks: Readonly<Record<string, { readonly status: CheckStatus; readonly latencyMs: number }>>
}

async function timed(fn: () => Promise<unknown>, timeoutMs: number): Promise<{ status: CheckStatus; latencyMs: number }> {
  const start = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
      }),
    ])
    return { status: 'ok', latencyMs: Math.round((performance.now() - start) * 10) / 10 }
  } catch {
    return { status: 'down', latencyMs: Math.round((performance.now() - start) * 10) / 10 }
  } finally {
    clearTimeout(timer)
  }
}

export function createReadinessCheck(deps: { db: Queryable; redis: RedisPing | undefined; timeoutMs?: number; degradable?: Readonly<Record<string, () => boolean>> | undefined }) {
  const timeoutMs = deps.timeoutMs ?? 2_000
  return async function checkReadiness(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      timed(() => deps.db.query('SELECT 1 AS ok'), timeoutMs),
      deps.redis ? timed(() => deps.redis!.ping(), timeoutMs) : Promise.resolve(undefined),
    ])
    const checks: Record<string, { status: CheckStatus; latencyMs: number }> = { database }
    if (redis) checks.redis = redis
    for (const [name, up] of Object.entries(deps.degradable ?? {})) checks[name] = { status: up() ? 'ok' : 'degraded', latencyMs: 0 }
    return { ready: Object.values(checks).every((c) => c.status !== 'down'), checks }
  }
}
