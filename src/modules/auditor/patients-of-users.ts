// Users who are patients appear in AuditEvents as Patient agents: their patient record ids, and back.

import type { Queryable } from '../../platform/db/index.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** user id → patient id, for the users among `userIds` who have a patient record. */
export async function patientsOfUsers(db: Queryable, userIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds.filter((u) => UUID.test(u)))]
  if (ids.length === 0) return new Map()
  const { rows } = await db.query<{ id: string; user_id: string }>('SELECT id, user_id FROM patients WHERE user_id = ANY($1::uuid[])', [ids])
  return new Map(rows.map((r) => [r.user_id, r.id]))
}

/** The user account of a patient record, if it has one. */
export async function userOfPatient(db: Queryable, patientId: string): Promise<string | undefined> {
  if (!UUID.test(patientId)) return undefined
  const { rows } = await db.query<{ user_id: string | null }>('SELECT user_id FROM patients WHERE id = $1', [patientId])
  return rows[0]?.user_id ?? undefined
}
