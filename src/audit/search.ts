// The auditor's search over the trail (issue 7: who saw this patient's data), SQL only (conventions C8).
// Newest first, keyset-paginated on (occurred_at, id): a page never skips or repeats an entry
// while new entries are appended, unlike OFFSET. The cursor is opaque to callers.

import type { Keyring } from '../platform/crypto/keyring.ts'
import type { Queryable } from '../platform/db/index.ts'
import { isInstantInRange } from '../platform/http/calendar.ts'
import { cursorSeal, type CursorSeal } from '../platform/http/cursor.ts'
import type { AuditEntry, Outcome } from './entry.ts'
import { ENTRY_COLUMNS, toEntry, type EntryRow } from './repository.ts'

export const MAX_PAGE = 200

/** The FHIR AuditEvent.action of an entry (C R U D E), as SQL; audit-event.ts presents the same rule. */
export const ACTION_CODE_SQL = `CASE
  WHEN action LIKE 'login.%' OR action LIKE 'second_factor.%' OR action LIKE 'password.%' THEN 'E'
  WHEN action LIKE 'DELETE %' THEN 'D'
  WHEN action LIKE 'GET %' OR action LIKE 'HEAD %' OR action LIKE '%.read' THEN 'R'
  WHEN status = 201 THEN 'C'
  WHEN action LIKE 'PUT %' OR action LIKE 'PATCH %' OR action LIKE '%.write' THEN 'U'
  ELSE 'E' END`

export interface AuditSearch {
  readonly patient?: string | undefined
  /** A user, device or client id as the entry's actor. */
  readonly actor?: string | undefined
  readonly client?: string | undefined
  /** The actor or the client (FHIR `agent`). */
  readonly agent?: string | undefined
  /** Leaves out the entries of this actor (a patient's access report leaves out their own). */
  readonly notActor?: string | undefined
  readonly action?: string | undefined
  readonly outcomes?: readonly Outcome[] | undefined
  /** FHIR action codes (C R U D E). */
  readonly actionCode?: string | undefined
  /** Inclusive lower bound and exclusive upper bound, each optional; several bounds all apply. */
  readonly after?: readonly { readonly at: Date; readonly inclusive: boolean }[] | undefined
  readonly before?: readonly { readonly at: Date; readonly inclusive: boolean }[] | undefined
  readonly limit: number
  readonly cursor?: string | undefined
}

export interface AuditPage {
  readonly entries: AuditEntry[]
  /** Present when more entries follow. */
  readonly next: string | undefined
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError'
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The position after an entry: base64url of its time (ms, as written) and id, sealed with the server's tag (ADR-0015). */
export function encodeCursor(e: Pick<AuditEntry, 'occurredAt' | 'id'>, seal: CursorSeal): string {
  return seal.seal(Buffer.from(`${e.occurredAt.toISOString()}|${e.id}`, 'utf8').toString('base64url'))
}

export function decodeCursor(cursor: string, seal: CursorSeal): { at: Date; id: string } {
  const content = seal.open(cursor)
  const [iso, id] = content === undefined ? [] : Buffer.from(content, 'base64url').toString('utf8').split('|')
  const at = new Date(iso ?? '')
  if (!id || !UUID.test(id) || !isInstantInRange(at))
    throw new InvalidCursorError('the cursor is not one this server issued')
  return { at, id }
}

/** The one seal of audit-trail cursors (the REST search and the FHIR AuditEvent view page the same list). */
export function auditCursorSeal(keyring: Pick<Keyring, 'blindIndex'>): CursorSeal {
  return cursorSeal(keyring, 'audit entries')
}

export async function searchEntries(db: Queryable, s: AuditSearch, seal: CursorSeal): Promise<AuditPage> {
  const where: string[] = []
  const params: unknown[] = []
  const bind = (v: unknown): string => {
    params.push(v)
    return `$${params.length}`
  }
  if (s.patient !== undefined) where.push(`patient_id = ${bind(s.patient)}`)
  if (s.actor !== undefined) where.push(`actor_id = ${bind(s.actor)}`)
  if (s.client !== undefined) where.push(`client_id = ${bind(s.client)}`)
  if (s.agent !== undefined) {
    const p = bind(s.agent)
    where.push(`(actor_id = ${p} OR client_id = ${p})`)
  }
  if (s.notActor !== undefined) where.push(`actor_id IS DISTINCT FROM ${bind(s.notActor)}`)
  if (s.action !== undefined) where.push(`action = ${bind(s.action)}`)
  if (s.outcomes !== undefined) where.push(`outcome = ANY(${bind(s.outcomes)}::text[])`)
  if (s.actionCode !== undefined) where.push(`(${ACTION_CODE_SQL}) = ${bind(s.actionCode)}`)
  for (const b of s.after ?? [])
    where.push(`occurred_at ${b.inclusive ? '>=' : '>'} ${bind(b.at.toISOString())}::timestamptz`)
  for (const b of s.before ?? [])
    where.push(`occurred_at ${b.inclusive ? '<=' : '<'} ${bind(b.at.toISOString())}::timestamptz`)
  if (s.cursor !== undefined) {
    const c = decodeCursor(s.cursor, seal)
    where.push(`(occurred_at, id) < (${bind(c.at.toISOString())}::timestamptz, ${bind(c.id)}::uuid)`)
  }
  const limit = Math.min(Math.max(1, Math.trunc(s.limit)), MAX_PAGE)
  const { rows } = await db.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM audit_entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY occurred_at DESC, id DESC LIMIT ${bind(limit + 1)}`,
    params,
  )
  const entries = rows.slice(0, limit).map(toEntry)
  const last = entries[entries.length - 1]
  return { entries, next: rows.length > limit && last ? encodeCursor(last, seal) : undefined }
}

export async function findEntry(db: Queryable, id: string): Promise<AuditEntry | undefined> {
  if (!UUID.test(id)) return undefined
  const { rows } = await db.query<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM audit_entries WHERE id = $1`, [id])
  return rows[0] ? toEntry(rows[0]) : undefined
}
