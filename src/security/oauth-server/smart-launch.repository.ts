// SMART launch contexts (smart_launch_contexts: created by a clinician, single use, short-lived)
// and the patient a launch bound to a grant (smart_grant_contexts). SQL only (ADR-0030); the
// rules are smart.ts's.

import type { Queryable } from '../../platform/db/index.ts'

export async function insertLaunch(
  q: Queryable,
  l: { id: string; clientId: string; userId: string; patientId: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await q.query(
    'INSERT INTO smart_launch_contexts (id, client_id, user_id, patient_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [l.id, l.clientId, l.userId, l.patientId, l.createdAt.toISOString(), l.expiresAt.toISOString()],
  )
}

/** Whether this launch is unused, unexpired and issued for this client. */
export async function launchUsable(q: Queryable, launch: string, clientId: string): Promise<boolean> {
  const { rows } = await q.query(
    'SELECT id FROM smart_launch_contexts WHERE id = $1 AND client_id = $2 AND expires_at > now() AND used_at IS NULL',
    [launch, clientId],
  )
  return rows.length === 1
}

/** Marks a usable launch used; its patient and creator, or undefined when it was not usable. */
export async function useLaunch(
  q: Queryable,
  launch: string,
  clientId: string,
): Promise<{ patientId: string; userId: string } | undefined> {
  const { rows } = await q.query<{ patient_id: string; user_id: string }>(
    'UPDATE smart_launch_contexts SET used_at = now() WHERE id = $1 AND client_id = $2 AND expires_at > now() AND used_at IS NULL RETURNING patient_id, user_id',
    [launch, clientId],
  )
  const row = rows[0]
  return row && { patientId: row.patient_id, userId: row.user_id }
}

export async function grantPatient(q: Queryable, grantId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ patient_id: string }>(
    'SELECT patient_id FROM smart_grant_contexts WHERE grant_id = $1',
    [grantId],
  )
  return rows[0]?.patient_id
}

export async function saveGrantPatient(
  q: Queryable,
  c: { grantId: string; patientId: string; launchId: string },
): Promise<void> {
  await q.query(
    `INSERT INTO smart_grant_contexts (grant_id, patient_id, launch_id) VALUES ($1, $2, $3)
     ON CONFLICT (grant_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, launch_id = EXCLUDED.launch_id, updated_at = now()`,
    [c.grantId, c.patientId, c.launchId],
  )
}
