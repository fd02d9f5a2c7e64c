-- ADR-0013: oidc_payloads keys every row by a keyed hash (HMAC-SHA-256 under a keyring subkey) of
-- the opaque value (token, code, session cookie, user code) and no longer stores the value. Rows
-- written before this migration are keyed by the value itself: a backup holding them hands out
-- live tokens, and the new adapter could never find them anyway. SQL cannot compute the keyed
-- hash (the key is not in the database), so they are deleted: users sign in again, apps and
-- devices holding a refresh token go through their authorization (or device pairing) again, and
-- client-credentials clients simply ask for a new token.
DELETE FROM oidc_payloads;
