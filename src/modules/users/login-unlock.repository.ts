// The e-mailed unlock links' table (login_unlock_tokens) and the one users column the link needs.
// SQL only (ADR-0030); the rules — one link per 15 minutes, one hour, one use — are in
// login-throttle-unlock.ts. Only a token's SHA-256 reaches this file.

import type { Queryable } from '../../platform/db/index.ts'

/** The address of an active account, its row locked for the rest of the transaction. */
export async function lockActiveUserEmail(tx: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ email: string }>(
    "SELECT email FROM users WHERE id = $1 AND status = 'active' FOR UPDATE",
    [userId],
  )
  return rows[0]?.email
}

export async function unlockIssuedSince(tx: Queryable, userId: string, since: Date): Promise<boolean> {
  const { rows } = await tx.query(
    'SELECT 1 FROM login_unlock_tokens WHERE user_id = $1 AND created_at > $2::timestamptz',
    [userId, since.toISOString()],
  )
  return rows.length > 0
}

/** Drops this account's expired or spent links. */
export async function deleteSpentUnlocks(tx: Queryable, userId: string, now: Date): Promise<void> {
  await tx.query(
    'DELETE FROM login_unlock_tokens WHERE user_id = $1 AND (expires_at < $2::timestamptz OR used_at IS NOT NULL)',
    [userId, now.toISOString()],
  )
}

export async function insertUnlock(
  tx: Queryable,
  link: { tokenHash: string; userId: string; expiresAt: Date; createdAt: Date },
): Promise<void> {
  await tx.query(
    'INSERT INTO login_unlock_tokens (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)',
    [link.tokenHash, link.userId, link.expiresAt.toISOString(), link.createdAt.toISOString()],
  )
}

/** The account an unspent, unexpired link unlocks. */
export async function usableUnlockUser(
  q: Queryable,
  tokenHash: string,
  now: Date,
): Promise<string | undefined> {
  const { rows } = await q.query<{ user_id: string }>(
    'SELECT user_id FROM login_unlock_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz',
    [tokenHash, now.toISOString()],
  )
  return rows[0]?.user_id
}

/** Marks a usable link spent; the account it unlocked, or undefined when it was not usable. */
export async function spendUnlock(q: Queryable, tokenHash: string, now: Date): Promise<string | undefined> {
  const { rows } = await q.query<{ user_id: string }>(
    'UPDATE login_unlock_tokens SET used_at = $2::timestamptz WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz RETURNING user_id',
    [tokenHash, now.toISOString()],
  )
  return rows[0]?.user_id
}
