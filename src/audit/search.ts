// The auditor's search over the trail (issue 7: who saw this patient's data); its SQL is in
// search.repository.ts (ADR-0030).
// Newest first, keyset-paginated on (occurred_at, id): a page never skips or repeats an entry
// while new entries are appended, unlike OFFSET. The cursor is opaque to callers.

import type { Keyring } from '../platform/crypto/keyring.ts'
import type { Queryable } from '../platform/db/index.ts'
import { cursorSeal, openPosition, sealPosition, type CursorSeal } from '../platform/http/cursor.ts'
import type { AuditEntry, Outcome } from './entry.ts'
import * as repo from './search.repository.ts'

export const MAX_PAGE = 200

export { ACTION_CODE_SQL } from './search.repository.ts'

export interface AuditSearch extends AuditFilter {
  readonly limit: number
  readonly cursor?: string | undefined
}

export interface AuditFilter {
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

/** The position after an entry: its time (ms, as written) and id, sealed with the server's tag (ADR-0015). */
export function encodeCursor(e: Pick<AuditEntry, 'occurredAt' | 'id'>, seal: CursorSeal): string {
  return sealPosition(seal, e.occurredAt, e.id)
}

export function decodeCursor(cursor: string, seal: CursorSeal): { at: Date; id: string } {
  const position = openPosition(seal, cursor)
  if (!position) throw new InvalidCursorError('the cursor is not one this server issued')
  return position
}

/** The one seal of audit-trail cursors (the REST search and the FHIR AuditEvent view page the same list). */
export function auditCursorSeal(keyring: Pick<Keyring, 'blindIndex'>): CursorSeal {
  return cursorSeal(keyring, 'audit entries')
}

export async function searchEntries(db: Queryable, s: AuditSearch, seal: CursorSeal): Promise<AuditPage> {
  const after = s.cursor !== undefined ? decodeCursor(s.cursor, seal) : undefined
  const limit = Math.min(Math.max(1, Math.trunc(s.limit)), MAX_PAGE)
  // One entry more than the page tells whether another page follows.
  const rows = await repo.selectEntries(db, s, after, limit + 1)
  const entries = rows.slice(0, limit)
  const last = entries[entries.length - 1]
  return { entries, next: rows.length > limit && last ? encodeCursor(last, seal) : undefined }
}

export async function findEntry(db: Queryable, id: string): Promise<AuditEntry | undefined> {
  if (!UUID.test(id)) return undefined
  return repo.entryById(db, id)
}
