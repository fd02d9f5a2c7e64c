// Verified bearer tokens, remembered (issue 17; ADR-0029): the principal a token resolved to, kept
// so the next request with the same token costs no statement. Safe only with its invalidation:
//
// - keyed by the token's keyed hash (the id it is stored under, ADR-0013), never the token; an
//   entry holds the principal, the token's audiences and expiry, and the ids it was built from;
// - bounded (least recently used entries go first) and short-lived (ttlMs, and never past the
//   token's own expiry);
// - dropped whenever what it was built from may have changed: any write in this process to the
//   tables a principal is read from clears the cache once the write is visible (platform/db
//   write-watch), before the writer's response is sent, so the very next request here sees it;
//   on PostgreSQL, triggers on those tables NOTIFY `vigil_auth` (migration 0026) and every
//   instance LISTENs, so another instance drops the entry within milliseconds. While the
//   listening connection is down the cache is off (every request reads the database).
//
// Patient facts (care team, consents, break-glass, erasure) are never cached for users: the policy
// decision point reads them on every decision (ADR-0008). A bound device carries its patient's
// organisation and erasure, read with the binding, for its own writes (ADR-0033); they go with the
// principal on any write to the patient's row.

import type { Database } from '../../platform/db/index.ts'
import { watchWrites } from '../../platform/db/index.ts'
import type { Principal } from './principal.ts'

export const AUTH_CHANNEL = 'vigil_auth'

/** Statements that may change what a cached principal was built from (tokens, accounts, roles, patients' accounts, devices, bindings, clients). */
export const AUTH_WRITES =
  /\b(?:UPDATE|DELETE\s+FROM)\s+oidc_payloads\b|\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:users|user_roles|patients|devices|device_bindings|oauth_clients)\b/i

export type InvalidationKind = 'token' | 'account' | 'device' | 'client' | 'patient'

export interface CachedPrincipal {
  readonly principal: Principal
  readonly audiences: readonly string[]
  /** The token's own expiry (ms since the epoch). */
  readonly tokenExpiresAt: number
  readonly accountId?: string | undefined
  readonly deviceId?: string | undefined
}

interface Entry extends CachedPrincipal {
  readonly until: number
}

export interface PrincipalCache {
  get(tokenId: string): CachedPrincipal | undefined
  /** A counter moved by every invalidation: a look-up that began before one must not be stored. */
  generation(): number
  set(tokenId: string, entry: CachedPrincipal, generationAtStart: number): void
  invalidate(kind: InvalidationKind, id: string): void
  clear(): void
  /** Off: nothing is kept or answered (the invalidation channel is down). */
  setEnabled(enabled: boolean): void
  readonly size: number
  readonly enabled: boolean
}

export function createPrincipalCache(options: {
  max: number
  ttlMs: number
  now?: () => number
}): PrincipalCache {
  const now = options.now ?? Date.now
  const entries = new Map<string, Entry>()
  let gen = 0
  let enabled = true
  const bump = () => {
    gen++
  }
  return {
    get(tokenId) {
      if (!enabled) return undefined
      const e = entries.get(tokenId)
      if (!e) return undefined
      const t = now()
      if (t >= e.until || t >= e.tokenExpiresAt) {
        entries.delete(tokenId)
        return undefined
      }
      // Most recently used last.
      entries.delete(tokenId)
      entries.set(tokenId, e)
      return e
    },
    generation: () => gen,
    set(tokenId, entry, generationAtStart) {
      if (!enabled || generationAtStart !== gen || options.max <= 0) return
      entries.delete(tokenId)
      entries.set(tokenId, { ...entry, until: now() + options.ttlMs })
      while (entries.size > options.max) {
        const oldest = entries.keys().next().value as string
        entries.delete(oldest)
      }
    },
    invalidate(kind, id) {
      bump()
      for (const [key, e] of entries) {
        const hit =
          (kind === 'token' && key === id) ||
          (kind === 'account' && e.accountId === id) ||
          (kind === 'device' && e.deviceId === id) ||
          (kind === 'client' && e.principal.clientId === id) ||
          // A patient's row changed (erased): a device bound to them carries its facts (ADR-0033).
          (kind === 'patient' && e.principal.patientId === id)
        if (hit) entries.delete(key)
      }
    },
    clear() {
      bump()
      entries.clear()
    },
    setEnabled(value) {
      bump()
      entries.clear()
      enabled = value
    },
    get size() {
      return entries.size
    },
    get enabled() {
      return enabled
    },
  }
}

const MESSAGE = /^(token|account|device|client|patient):(.{1,200})$/

/**
 * Keeps the cache honest: local writes clear it; on PostgreSQL the cache is off until LISTEN
 * `vigil_auth` is in place, follows every notification, and goes off again while the listening
 * connection is lost. Returns the function that stops it.
 */
export async function startPrincipalInvalidation(
  db: Database,
  cache: PrincipalCache,
  onError?: (err: unknown) => void,
): Promise<() => Promise<void>> {
  const unwatch = watchWrites(AUTH_WRITES, () => cache.clear())
  if (!db.listen) return async () => unwatch()
  // PostgreSQL: several processes may share the database; trust nothing until listening.
  cache.setEnabled(false)
  let listening: { close(): Promise<void> } | undefined
  try {
    listening = await db.listen(AUTH_CHANNEL, {
      onMessage: (payload) => {
        const m = MESSAGE.exec(payload)
        if (m) cache.invalidate(m[1] as InvalidationKind, m[2] as string)
        else cache.clear()
      },
      onState: (up) => cache.setEnabled(up),
    })
  } catch (err) {
    // No invalidation channel: no cache (every request reads the database, as before issue 17).
    onError?.(err)
  }
  return async () => {
    unwatch()
    cache.setEnabled(false)
    await listening?.close()
  }
}
