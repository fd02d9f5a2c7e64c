// Ends everything the authorization server holds for one account: browser sessions, grants and
// every code and token issued under them. Called when the password changes hands — a completed
// reset (whoever held the old password loses all access) or a change (every other session ends).
// Tokens are opaque and looked up on every use (ADR-0005), so a deleted row fails at once:
// a refresh gets invalid_grant, an API call 401.

import type { Database, Queryable } from '../../platform/db/index.ts'
import { deleteAccountPayloads } from './oidc-payloads.repository.ts'
import { deleteAccountPendingLogins } from './pending-logins.repository.ts'

/** The models that carry the account (payload.accountId, see postgres-adapter.ts). Client
 *  credentials tokens have no account; an interaction holds it in its session or its result. */
const ACCOUNT_MODELS = [
  'Session',
  'Grant',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]

export interface RevokeOptions {
  /** The uid of a browser session to keep (the one that changed the password); its grants still
   *  end. The uid, not the session id: the id is the cookie's value and is stored only hashed (ADR-0013). */
  readonly keepSessionUid?: string | undefined
}

/** Deletes the account's sessions, grants, codes and tokens, its interactions in flight and its
 *  pending logins between password and second factor, in one transaction. Returns the number of
 *  oidc_payloads rows removed. */
export async function revokeAllForAccount(
  db: Database,
  accountId: string,
  options: RevokeOptions = {},
): Promise<number> {
  return db.transaction((tx) => revokeAllForAccountIn(tx, accountId, options))
}

/** The same, in the caller's transaction `tx` (the one that sets the account's password). */
export async function revokeAllForAccountIn(
  tx: Queryable,
  accountId: string,
  options: RevokeOptions = {},
): Promise<number> {
  const removed = await deleteAccountPayloads(tx, accountId, ACCOUNT_MODELS, options.keepSessionUid ?? null)
  await deleteAccountPendingLogins(tx, accountId)
  return removed
}
