// One active relay per outbox (ADR-0020). On PostgreSQL: a session-level advisory lock held on a
// connection of its own, keyed by the schema the outbox lives in. When the holder dies its
// connection closes and PostgreSQL releases the lock at once; a standby trying on every relay
// pass takes over within one pass. Server-side TCP keepalives bound the case where the holder's
// machine vanishes without closing the connection. The holder re-checks its connection on every
// pass and stops the moment it is gone. On PGlite there is one process per data directory, so
// that process is the relay.

import pg from 'pg'
import type { Database } from '../../platform/db/index.ts'
import { currentSchema, pingRelaySession, prepareRelaySession, tryRelayLock } from './repository.ts'

const LOCK_CLASS = 727_000_002 // advisory lock namespace of the outbox relay (727_000_001: migrations)

export interface LeaderLock {
  /** True when this process holds (or just took) the lock. Never throws. */
  acquire(): Promise<boolean>
  release(): Promise<void>
  readonly held: boolean
}

export function createLeaderLock(deps: {
  db: Database
  databaseUrl: string | undefined
  onChange?: (held: boolean) => void
}): LeaderLock {
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
        schema ??= await currentSchema(deps.db)
        if (!client) {
          const c = new pg.Client({
            connectionString: deps.databaseUrl,
            keepAlive: true,
            keepAliveInitialDelayMillis: 5_000,
            connectionTimeoutMillis: 5_000,
          })
          c.on('error', lost)
          await c.connect()
          await prepareRelaySession(c)
          client = c
        }
        if (held) {
          await pingRelaySession(client)
          return true
        }
        if (await tryRelayLock(client, LOCK_CLASS, schema)) {
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
