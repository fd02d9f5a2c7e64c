// Sign-ins between the password and the second factor (pending_logins), keyed by the
// interaction's uid. SQL only (ADR-0030); the steps are interactions.ts's.

import type { Queryable } from '../../platform/db/index.ts'

export type PendingStep = 'verify-totp' | 'enrol-totp' | 'enrolled'

export interface PendingLogin {
  readonly account_id: string
  readonly next_step: PendingStep
}

/** The unexpired pending sign-in of this interaction. */
export async function pendingLogin(q: Queryable, interactionUid: string): Promise<PendingLogin | undefined> {
  const { rows } = await q.query<PendingLogin>(
    'SELECT account_id, next_step FROM pending_logins WHERE interaction_uid = $1 AND expires_at > now()',
    [interactionUid],
  )
  return rows[0]
}

export async function savePendingLogin(
  q: Queryable,
  p: { interactionUid: string; accountId: string; nextStep: PendingStep; ttlSeconds: number },
): Promise<void> {
  await q.query(
    `INSERT INTO pending_logins (interaction_uid, account_id, next_step, expires_at)
     VALUES ($1, $2, $3, now() + ($4 || ' seconds')::interval)
     ON CONFLICT (interaction_uid) DO UPDATE SET account_id = EXCLUDED.account_id, next_step = EXCLUDED.next_step,
       expires_at = EXCLUDED.expires_at`,
    [p.interactionUid, p.accountId, p.nextStep, String(p.ttlSeconds)],
  )
}

export async function markEnrolled(q: Queryable, interactionUid: string): Promise<void> {
  await q.query("UPDATE pending_logins SET next_step = 'enrolled' WHERE interaction_uid = $1", [
    interactionUid,
  ])
}

export async function deletePendingLogin(q: Queryable, interactionUid: string): Promise<void> {
  await q.query('DELETE FROM pending_logins WHERE interaction_uid = $1', [interactionUid])
}

export async function deleteAccountPendingLogins(q: Queryable, accountId: string): Promise<void> {
  await q.query('DELETE FROM pending_logins WHERE account_id = $1', [accountId])
}
