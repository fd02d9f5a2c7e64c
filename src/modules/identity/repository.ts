// What the identity module reads of users beyond the user service: the account's FHIR identity.
// SQL only (ADR-0030).

import type { Queryable } from '../../platform/db/index.ts'

/** The user's own patient record (not erased), and whether they hold a clinician role. */
export async function fhirIdentity(
  q: Queryable,
  userId: string,
): Promise<{ patientId: string | null; clinician: boolean }> {
  const { rows } = await q.query<{ patient_id: string | null; clinician: boolean }>(
    `SELECT (SELECT id FROM published_patients WHERE user_id = $1 AND erased_at IS NULL LIMIT 1) AS patient_id,
            EXISTS (SELECT 1 FROM published_user_roles WHERE user_id = $1 AND role = 'clinician') AS clinician`,
    [userId],
  )
  const row = rows[0]
  return { patientId: row?.patient_id ?? null, clinician: row?.clinician === true }
}
