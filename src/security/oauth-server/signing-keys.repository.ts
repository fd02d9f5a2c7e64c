// The token signing keys' table (signing_keys, use_for = 'oauth'). SQL only (ADR-0030): key
// generation and sealing are signing-keys.ts's; only a sealed private JWK reaches this file.

import type { Queryable } from '../../platform/db/index.ts'

export interface SigningKeyRow {
  readonly kid: string
  readonly privateJwkSealed: string
  readonly retired: boolean
}

/** The unexpired keys: the current one first, then retired ones, newest first. */
export async function liveSigningKeys(q: Queryable): Promise<SigningKeyRow[]> {
  const { rows } = await q.query<{ kid: string; private_jwk_sealed: string; retired_at: Date | null }>(
    `SELECT kid, private_jwk_sealed, retired_at FROM signing_keys
     WHERE use_for = 'oauth' AND (expires_at IS NULL OR expires_at > now())
     ORDER BY retired_at IS NOT NULL, created_at DESC`,
  )
  return rows.map((r) => ({
    kid: r.kid,
    privateJwkSealed: r.private_jwk_sealed,
    retired: r.retired_at !== null,
  }))
}

/** What the unexpired keys are and which are retired, in kid order (a cheap fingerprint for reloads). */
export async function liveSigningKeyStates(q: Queryable): Promise<{ kid: string; retired: boolean }[]> {
  const { rows } = await q.query<{ kid: string; retired: boolean }>(
    `SELECT kid, retired_at IS NOT NULL AS retired FROM signing_keys
     WHERE use_for = 'oauth' AND (expires_at IS NULL OR expires_at > now()) ORDER BY kid`,
  )
  return rows
}

export async function insertSigningKey(
  q: Queryable,
  key: { kid: string; alg: string; publicJwk: object; privateJwkSealed: string },
): Promise<void> {
  await q.query(
    'INSERT INTO signing_keys (kid, use_for, alg, public_jwk, private_jwk_sealed) VALUES ($1, $2, $3, $4, $5)',
    [key.kid, 'oauth', key.alg, JSON.stringify(key.publicJwk), key.privateJwkSealed],
  )
}

/** Retires the current key; it stays published for `days` more. */
export async function retireCurrentSigningKey(q: Queryable, days: number): Promise<void> {
  await q.query(
    `UPDATE signing_keys SET retired_at = now(), expires_at = now() + ($1 || ' days')::interval
     WHERE use_for = 'oauth' AND retired_at IS NULL`,
    [String(days)],
  )
}
