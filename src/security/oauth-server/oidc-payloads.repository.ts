// oidc-provider's storage (oidc_payloads): one row per code, token, session, grant and
// interaction, keyed by a keyed hash of its opaque value (ADR-0013). SQL only (ADR-0030): the
// hashing, handles and payload shaping are postgres-adapter.ts's; only hashes reach this file.

import type { AdapterPayload } from 'oidc-provider'
import type { Queryable } from '../../platform/db/index.ts'

export interface PayloadRow {
  readonly model: string
  /** The row's key: a keyed hash, never the value. */
  readonly id: string
  readonly payload: AdapterPayload
  readonly consumedAt: Date | null
}

interface Row {
  model: string
  id: string
  payload: AdapterPayload | string
  consumed_at: Date | string | null
}
const toPayloadRow = (r: Row): PayloadRow => ({
  model: r.model,
  id: r.id,
  payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as AdapterPayload) : r.payload,
  consumedAt: r.consumed_at === null ? null : new Date(r.consumed_at),
})

/** A row as written (its hashes computed by the adapter). */
type PayloadWrite = {
  model: string
  id: string
  payload: AdapterPayload
  grantId: string | null
  userCode: string | null
  uid: string | null
  expiresAt: Date | null
}

/**
 * Where a device code stands, as oidc-provider keeps it in the payload: `pending` until someone
 * confirms its user code, `confirmed` (inFlight) while they sign in and decide, `decided` once an
 * account approved it (accountId) or an error ended it (error). It only moves forward.
 */
export type DeviceCodeStage = 'pending' | 'confirmed' | 'decided'

const STORED_DEVICE_CODE_STAGE = `CASE
       WHEN COALESCE(oidc_payloads.payload->>'error', '') <> '' OR COALESCE(oidc_payloads.payload->>'accountId', '') <> '' THEN 'decided'
       WHEN oidc_payloads.payload->>'inFlight' = 'true' THEN 'confirmed'
       ELSE 'pending' END`

/**
 * A device code's save checked against the stored row (a compare-and-set, ADR-0013): written only
 * while the row is still at `readAt`, the stage its writer read. A save read `pending` by the
 * browser session whose keyed hash is `by` is also written over a confirmation that session made
 * (the payload's `confirmedIn`): that browser may confirm again, or abort, until the code is decided.
 */
export interface DeviceCodeCheck {
  readonly readAt: DeviceCodeStage
  readonly by: string | null
}

/** The update of a stored row; with a device code's check ($8, $9), only while it holds. */
const UPSERT_CONFLICT = `ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
       user_code = COALESCE(EXCLUDED.user_code, oidc_payloads.user_code), uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at
     WHERE $8::text IS NULL OR ${STORED_DEVICE_CODE_STAGE} = $8::text
        OR ($9::text IS NOT NULL AND ${STORED_DEVICE_CODE_STAGE} = 'confirmed' AND oidc_payloads.payload->>'confirmedIn' = $9::text)`

const paramsOf = (row: PayloadWrite, check: DeviceCodeCheck | null) => [
  row.model,
  row.id,
  JSON.stringify(row.payload),
  row.grantId,
  row.userCode,
  row.uid,
  row.expiresAt,
  check?.readAt ?? null,
  check?.by ?? null,
]

/** Writes the row; with a device code's `check`, a stored row is updated only while it holds. False when it refused the write. */
export async function upsertPayload(
  q: Queryable,
  row: PayloadWrite,
  check: DeviceCodeCheck | null = null,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ${UPSERT_CONFLICT}`,
    paramsOf(row, check),
  )
  return rowCount === 1
}

/**
 * Writes over a row only while it is still stored (a browser session the request read): false, and
 * nothing written, when it was deleted meanwhile (signed out, or replaced by a new identifier).
 */
export async function updatePayload(q: Queryable, row: PayloadWrite): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE oidc_payloads SET payload = $3, grant_id = $4, user_code = COALESCE($5, user_code), uid = $6, expires_at = $7
      WHERE model = $1 AND id = $2`,
    paramsOf(row, null).slice(0, 7),
  )
  return rowCount === 1
}

/**
 * A code or token of a grant, written only while its grant is stored and unexpired (ADR-0013), and
 * with a device code's `check` as upsertPayload; false when either refused the write. The grant's row is locked
 * (FOR KEY SHARE) until the write commits, so a revocation deleting the grant at that moment waits
 * for it, and then finds what it wrote.
 */
export async function upsertGrantPayload(
  q: Queryable,
  row: PayloadWrite & { grantId: string },
  check: DeviceCodeCheck | null = null,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
     SELECT $1::text, $2::text, $3::jsonb, $4::text, $5::text, $6::text, $7::timestamptz
       FROM oidc_payloads g
      WHERE g.model = 'Grant' AND g.id = $4::text AND (g.expires_at IS NULL OR g.expires_at > now())
        FOR KEY SHARE OF g
     ${UPSERT_CONFLICT}`,
    paramsOf(row, check),
  )
  return rowCount === 1
}

/** The unexpired row of this model whose id, user code or uid (each a keyed hash) is `hash`. */
export async function livePayloadWhere(
  q: Queryable,
  model: string,
  column: 'id' | 'user_code' | 'uid',
  hash: string,
): Promise<PayloadRow | undefined> {
  const { rows } = await q.query<Row>(
    `SELECT model, id, payload, consumed_at FROM oidc_payloads
     WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
    [model, hash],
  )
  return rows[0] && toPayloadRow(rows[0])
}

/** The unexpired bearer tokens (user or client-credentials) stored under this hash. */
export async function liveBearerRows(q: Queryable, hash: string): Promise<PayloadRow[]> {
  const { rows } = await q.query<Row>(
    `SELECT model, id, payload, consumed_at FROM oidc_payloads
      WHERE model IN ('AccessToken', 'ClientCredentials') AND id = $1 AND (expires_at IS NULL OR expires_at > now())`,
    [hash],
  )
  return rows.map(toPayloadRow)
}

/** Marks the row consumed, once: true for the one call that consumed it, false when it was consumed already or is gone. */
export async function markConsumed(q: Queryable, model: string, id: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
    [model, id],
  )
  return rowCount === 1
}

/** The grant a row belongs to (its keyed hash), if it has one and is still stored. */
export async function grantIdOf(q: Queryable, model: string, id: string): Promise<string | undefined> {
  const { rows } = await q.query<{ grant_id: string | null }>(
    'SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2',
    [model, id],
  )
  return rows[0]?.grant_id ?? undefined
}

/**
 * A grant revoked whole: its own row first, then every code and token saved under it. Two
 * statements in this order (ADR-0013): deleting the grant's row waits for any write holding it
 * (upsertGrantPayload) to commit, and refuses every later one, so the second statement finds all
 * that was written under the grant, the tokens a concurrent redemption saved included.
 */
export async function deleteGrant(q: Queryable, grantId: string): Promise<void> {
  await q.query("DELETE FROM oidc_payloads WHERE model = 'Grant' AND id = $1", [grantId])
  await q.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId])
}

/** Deletes the row; true when this call deleted it, false when it was gone already. */
export async function deletePayload(q: Queryable, model: string, id: string): Promise<boolean> {
  const { rowCount } = await q.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id])
  return rowCount === 1
}

/** Every code and token of a grant at once (a replayed code or a reused refresh token). */
export async function deleteGrantPayloads(q: Queryable, grantId: string): Promise<void> {
  await q.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId])
}

/** Removes rows expired for more than an hour; the number removed. */
export async function deleteExpiredPayloads(q: Queryable): Promise<number> {
  const { rowCount } = await q.query("DELETE FROM oidc_payloads WHERE expires_at < now() - interval '1 hour'")
  return rowCount
}

/**
 * Deletes an account's rows of the given models (keeping the browser session with uid
 * `keepSessionUid`, if any), every code and token of its grants, and its interactions in flight.
 * The number removed.
 */
export async function deleteAccountPayloads(
  q: Queryable,
  accountId: string,
  models: readonly string[],
  keepSessionUid: string | null,
): Promise<number> {
  // No index on payload->>'accountId': this runs on a password change or reset only (rare, and
  // reset requests are rate-limited), so a scan of oidc_payloads is an accepted cost.
  const { rowCount } = await q.query(
    `DELETE FROM oidc_payloads
     WHERE (model = ANY($2::text[]) AND payload->>'accountId' = $1 AND ($3::text IS NULL OR model <> 'Session' OR payload->>'uid' IS DISTINCT FROM $3::text))
        -- every code and token of the account's grants, whatever its own payload says
        OR grant_id IN (SELECT id FROM oidc_payloads WHERE model = 'Grant' AND payload->>'accountId' = $1)
        -- a sign-in that passed the old password and waits to resume its authorization request
        OR (model = 'Interaction' AND (payload->'session'->>'accountId' = $1 OR payload->'result'->'login'->>'accountId' = $1))`,
    [accountId, models, keepSessionUid],
  )
  return rowCount
}
