-- Accounts (identity issue): organisations, users, roles and memberships, second factors, login
-- throttling, and the single-use tokens sent by mail. Times are timestamptz (UTC); every time
-- the application decides on (expiry, locks) is written from the application's clock.

CREATE TABLE organisations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organisations_name_key ON organisations (name);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- as the user typed it (shown back and used to send mail)
  email text NOT NULL,
  -- NFKC, trimmed, lower-cased by the application: Alice@X.test and alice@x.test are one account
  email_normalized text NOT NULL,
  -- argon2id PHC string; null for an account that has not set a password yet (invited)
  password_hash text,
  display_name text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  email_verified_at timestamptz,
  password_changed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_email_normalized_key UNIQUE (email_normalized)
);

-- One table for global roles and organisation memberships. admin and auditor are platform-wide
-- (no organisation); org-admin and clinician always act within one organisation; a patient or
-- caregiver is a member of an organisation once one takes them into care, and may exist before
-- that (self-registration from the mobile app).
CREATE TABLE user_roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('patient', 'caregiver', 'clinician', 'org-admin', 'admin', 'auditor')),
  organisation_id uuid REFERENCES organisations (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_roles_scope CHECK (
    (role IN ('admin', 'auditor') AND organisation_id IS NULL)
    OR (role IN ('org-admin', 'clinician') AND organisation_id IS NOT NULL)
    OR role IN ('patient', 'caregiver')
  )
);
-- A role is held once globally and once per organisation (two partial indexes: a NULL
-- organisation would otherwise never conflict).
CREATE UNIQUE INDEX user_roles_global_key ON user_roles (user_id, role) WHERE organisation_id IS NULL;
CREATE UNIQUE INDEX user_roles_organisation_key ON user_roles (user_id, role, organisation_id) WHERE organisation_id IS NOT NULL;
CREATE INDEX user_roles_organisation ON user_roles (organisation_id, role) WHERE organisation_id IS NOT NULL;

-- TOTP (RFC 6238). The secret is sealed (AES-GCM through the keyring) by the caller, bound to the
-- user id as associated data; this table never holds it in clear.
CREATE TABLE totp_credentials (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_sealed text NOT NULL,
  -- null while enrolment waits for the first correct code
  confirmed_at timestamptz,
  -- the highest time step accepted; a code for this step or an earlier one is refused (replay)
  last_used_step bigint,
  failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes: SHA-256 of (user id, code); random codes need no slow hash.
CREATE TABLE recovery_codes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT recovery_codes_user_code_key UNIQUE (user_id, code_hash)
);

-- Failed-login counters shared by every instance: key 'account:<user id>' (or
-- 'account:unknown:<hash of the email>' so unknown emails behave the same) and 'ip:<address>'.
CREATE TABLE login_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL CHECK (failures >= 0),
  window_started_at timestamptz NOT NULL,
  last_failure_at timestamptz NOT NULL,
  locked_until timestamptz
);
CREATE INDEX login_throttle_last_failure_at ON login_throttle (last_failure_at);

-- Tokens sent by mail: only their SHA-256 is stored, so a database read does not yield a usable link.
CREATE TABLE email_verification_tokens (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_verification_tokens_user ON email_verification_tokens (user_id);

CREATE TABLE password_reset_tokens (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_tokens_user ON password_reset_tokens (user_id);
