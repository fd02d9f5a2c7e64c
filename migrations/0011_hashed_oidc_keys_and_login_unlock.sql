-- ADR-0013: oidc_payloads keys every row by a keyed hash (HMAC-SHA-256 under a keyring subkey) of
-- the opaque value (token, code, session cookie, user code) and no longer stores the value. Rows
-- written before this migration are keyed by the value itself: a backup holding them hands out
-- live tokens, and the new adapter could never find them anyway. SQL cannot compute the keyed
-- hash (the key is not in the database), so they are deleted: users sign in again, apps and
-- devices holding a refresh token go through their authorization (or device pairing) again, and
-- client-credentials clients simply ask for a new token.
DELETE FROM oidc_payloads;

-- ADR-0014: the e-mailed unlock link of a delayed sign-in. Only the token's SHA-256 is stored
-- (as for reset and verification links); single use, one hour.
CREATE TABLE login_unlock_tokens (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_unlock_tokens_user_id ON login_unlock_tokens (user_id, created_at);
