// One active relay per outbox (ADR-0020). On PostgreSQL: a session-level advisory lock held on a
// connection of its own, keyed by the schema the outbox lives in. When the holder dies its
// connection closes and PostgreSQL releases the lock at once; a standby trying on every relay
// pass takes over within one pass. Server-side TCP keepalives bound the case where the holder's
// machine vanishes without closing the connection. The holder re-checks its connection on every
// pass and stops the moment it is gone. On PGlite there is one process per data directory, so
// that process is the relay.

import pg from 'pg'
import type { Database } from '../../platform/db/index.ts'

const LOCK_CLASS = 727_000_002 // advisory lock namespace of the outbox relay (727_000_001: migrations)

export interface LeaderLock {
  /** True when this process holds (or just took) the lock. Never throws. */
  acquire(): Promise<boolean>
  release(): Promise<void>
  readonly held: boolean
}

export function createLeaderLock(deps: { db: Database; databaseUrl: string | undefined; onChange?: (held: boolean) => void }): LeaderLock {
  if (deps.db.kind === 'pglite' || !deps.databaseUrl) {
    let held = false
    return {
      async acquire() {
        if (!held) deps.onChange?.((held = true))
        return true
      },
      async release() {
        held = false
      },
      get held() {
        return held
      },
    }
  }
  let client: pg.Client | undefined
  let held = false
  let schema: string | undefined
  const lost = () => {
    const was = held
    held = false
    const c = client
    client = undefined
    c?.end().catch(() => {})
    if (was) deps.onChange?.(false)
  }
  return {
    get held() {
      return held
    },
    async acquire() {
      try {
        schema ??= (await deps.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s ?? 'public'
        if (!client) {
          const c = new pg.Client({ connectionString: deps.databaseUrl, keepAlive: true, keepAliveInitialDelayMillis: 5_000, connectionTimeoutMillis: 5_000 })
          c.on('error', lost)
          await c.connect()
          // The server notices a vanished holder within ~10 s rather than the kernel's default hours.
          await c.query("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET application_name = 'vigil-outbox-relay'")
          client = c
        }
        if (held) {
          await client.query('SELECT 1')
          return true
        }
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_CLASS, schema])
        if (rows[0]?.ok === true) {
          held = true
          deps.onChange?.(true)
        }
        return held
      } catch {
        lost()
        return false
      }
    },
    async release() {
      const c = client
      const was = held
      client = undefined
      held = false
      if (c) await c.end().catch(() => {})
      if (was) deps.onChange?.(false)
    },
  }
}
