-- The OAuth 2.0 / OpenID Connect server's state (oidc-provider, through our adapter):
-- codes, tokens, sessions, grants and interactions, one row each, expiring.
CREATE TABLE oidc_payloads (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_user_code ON oidc_payloads (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_expires_at ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

-- Registered clients. Metadata as oidc-provider reads it, less the secret, which is sealed by
-- the keyring (bound to the client id) and never stored in plaintext.
CREATE TABLE oauth_clients (
  client_id text PRIMARY KEY,
  metadata jsonb NOT NULL,
  secret_sealed text,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Token and checkpoint signing keys. The private JWK is sealed by the keyring; retired keys
-- stay published (for verification) until they expire.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  use_for text NOT NULL CHECK (use_for IN ('oauth')),
  alg text NOT NULL,
  public_jwk jsonb NOT NULL,
  private_jwk_sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz,
  expires_at timestamptz
);

-- A login in progress between its password step and its second factor, bound to the OAuth
-- interaction (which expires within 30 minutes) — never a half-authenticated session.
CREATE TABLE pending_logins (
  interaction_uid text PRIMARY KEY,
  account_id text NOT NULL,
  next_step text NOT NULL CHECK (next_step IN ('verify-totp', 'enrol-totp', 'enrolled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
