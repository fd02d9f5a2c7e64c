// The audit-trail search's SQL (ADR-0030): the filters of an AuditFilter as a WHERE clause, newest
// first, keyset-paginated on (occurred_at, id) after a decoded cursor position.

import type { Queryable } from '../platform/db/index.ts'
import type { AuditEntry } from './entry.ts'
import { ENTRY_COLUMNS, toEntry, type EntryRow } from './repository.ts'
import type { AuditFilter } from './search.ts'

/** The FHIR AuditEvent.action of an entry (C R U D E), as SQL; audit-event.ts presents the same rule. */
export const ACTION_CODE_SQL = `CASE
  WHEN action LIKE 'login.%' OR action LIKE 'second_factor.%' OR action LIKE 'password.%' THEN 'E'
  WHEN action LIKE 'DELETE %' THEN 'D'
  WHEN action LIKE 'GET %' OR action LIKE 'HEAD %' OR action LIKE '%.read' THEN 'R'
  WHEN status = 201 THEN 'C'
  WHEN action LIKE 'PUT %' OR action LIKE 'PATCH %' OR action LIKE '%.write' THEN 'U'
  ELSE 'E' END`

/** Up to `take` entries matching the filter, newest first, strictly after `position` in that order. */
export async function selectEntries(
  q: Queryable,
  s: AuditFilter,
  position: { at: Date; id: string } | undefined,
  take: number,
): Promise<AuditEntry[]> {
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
  if (position)
    where.push(
      `(occurred_at, id) < (${bind(position.at.toISOString())}::timestamptz, ${bind(position.id)}::uuid)`,
    )
  const { rows } = await q.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM audit_entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY occurred_at DESC, id DESC LIMIT ${bind(take)}`,
    params,
  )
  return rows.map(toEntry)
}

export async function entryById(q: Queryable, id: string): Promise<AuditEntry | undefined> {
  const { rows } = await q.query<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM audit_entries WHERE id = $1`, [id])
  return rows[0] ? toEntry(rows[0]) : undefined
}
