// Readiness runs a real query on the database, and pings Redis when one is configured; each
// check has a deadline so a hung dependency makes the probe fail rather than hang.
// Two kinds of dependency (ADR-0017): without the database an instance cannot serve (not ready:
// a load balancer should drain it); without Redis it serves with per-instance limits (degraded:
// still ready, so a Redis outage does not drain the whole fleet at once). The state of each is
// also a metric, vigil_dependency_up, for alerting.

import { Gauge, type Registry } from 'prom-client'
import { ping, type Queryable } from '../../platform/db/index.ts'

export interface RedisPing {
  ping(): Promise<string>
}

/** degraded: an optional dependency (NATS) is unreachable; the service still serves, so it stays ready. */
export type CheckStatus = 'ok' | 'degraded' | 'down'

export interface Readiness {
  /** The instance can serve (every critical dependency answers). */
  readonly ready: boolean
  /** Ready, but an optional dependency is down (Redis): served with reduced guarantees. */
  readonly degraded: boolean
  readonly checks: Readonly<
    Record<string, { readonly status: CheckStatus; readonly latencyMs: number; readonly critical: boolean }>
  >
}

async function timed(
  fn: () => Promise<unknown>,
  timeoutMs: number,
): Promise<{ status: CheckStatus; latencyMs: number }> {
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

export function createReadinessCheck(deps: {
  db: Queryable
  redis: RedisPing | undefined
  timeoutMs?: number
  registry?: Registry
  degradable?: Readonly<Record<string, () => boolean>> | undefined
}) {
  const timeoutMs = deps.timeoutMs ?? 2_000
  const up = new Gauge({
    name: 'vigil_dependency_up',
    help: 'Whether a dependency answered the last readiness check (1) or not (0); critical="false" marks those the service runs degraded without.',
    labelNames: ['dependency', 'critical'] as const,
    registers: deps.registry ? [deps.registry] : [],
  })
  return async function checkReadiness(): Promise<Readiness> {
    const [database, redis] = await Promise.all([
      timed(() => ping(deps.db), timeoutMs),
      deps.redis ? timed(() => deps.redis!.ping(), timeoutMs) : Promise.resolve(undefined),
    ])
    const checks: Record<string, { status: CheckStatus; latencyMs: number; critical: boolean }> = {
      database: { ...database, critical: true },
    }
    if (redis) checks.redis = { ...redis, critical: false }
    // NATS and the like: the service runs without them, reporting them degraded (ADR-0020).
    for (const [name, isUp] of Object.entries(deps.degradable ?? {}))
      checks[name] = { status: isUp() ? 'ok' : 'degraded', latencyMs: 0, critical: false }
    for (const [name, c] of Object.entries(checks))
      up.set({ dependency: name, critical: String(c.critical) }, c.status === 'ok' ? 1 : 0)
    const all = Object.values(checks)
    return {
      ready: all.every((c) => !c.critical || c.status === 'ok'),
      degraded: all.some((c) => !c.critical && c.status !== 'ok'),
      checks,
    }
  }
}
