-- Patients, their data keys, care teams, consent and break-glass (issues 4, 5 and 7; ADR-0008
-- authorization, ADR-0009 field-level encryption).
--
-- A patient's demographics are sealed with the patient's own data key; nothing here holds a
-- name, a birth date or an identifier in plaintext. Lookups by identifier use a keyed blind index.

CREATE TABLE patients (
  -- pseudonymous: the id is what every other table, the audit trail and FHIR references use
  id uuid PRIMARY KEY,
  -- the patient's own login, when they have one (a patient may exist only in a clinic's records)
  user_id uuid UNIQUE REFERENCES users (id) ON DELETE SET NULL,
  -- the organisation that holds the record (null: self-registered, not yet in any clinic's care)
  organisation_id uuid REFERENCES organisations (id),
  -- JSON {name:{given,family}, birthDate, gender, identifiers:[{system,value}]} sealed with the
  -- patient's data key, associated data "patient:<id>:demographics"
  demographics_sealed text,
  -- HMAC blind indexes (keyring.blindIndex) of "system|value" for each identifier, for exact search
  identifier_index text[] NOT NULL DEFAULT '{}',
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- crypto-shredding: set when the patient's data keys were destroyed (their PHI is unreadable)
  erased_at timestamptz
);
CREATE INDEX patients_organisation ON patients (organisation_id);
CREATE INDEX patients_identifier_index ON patients USING gin (identifier_index);

-- Key-encryption keys (KEKs), versioned. Each is 32 random bytes sealed by the root keyring
-- (ENCRYPTION_KEYRING, or a KMS behind the same interface) with associated data "kek:<version>".
-- `vigil keys rotate` adds a version and re-wraps every data key under it.
CREATE TABLE kek_versions (
  version integer PRIMARY KEY CHECK (version >= 1),
  sealed_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);

-- Per-patient data keys (DEKs): 32 random bytes wrapped by a KEK version, associated data
-- "dek:<patient id>:<version>". A patient has one current data key (the highest version); older
-- versions stay until the re-encryption job has moved every ciphertext off them.
-- Erasure sets wrapped_key to NULL: without it, every ciphertext of the patient — in this
-- database and in every backup of it — is noise.
CREATE TABLE patient_data_keys (
  patient_id uuid NOT NULL REFERENCES patients (id),
  version integer NOT NULL CHECK (version >= 1),
  kek_version integer REFERENCES kek_versions (version),
  wrapped_key text,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  PRIMARY KEY (patient_id, version),
  CONSTRAINT patient_data_keys_destroyed CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL)),
  CONSTRAINT patient_data_keys_kek CHECK ((wrapped_key IS NULL) OR (kek_version IS NOT NULL))
);
CREATE INDEX patient_data_keys_kek_version ON patient_data_keys (kek_version) WHERE wrapped_key IS NOT NULL;

-- A clinician in a patient's care team, within an organisation.
CREATE TABLE care_team_members (
  patient_id uuid NOT NULL REFERENCES patients (id),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organisation_id uuid NOT NULL REFERENCES organisations (id),
  added_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patient_id, user_id)
);
CREATE INDEX care_team_members_user ON care_team_members (user_id);

-- A patient's grant of access to a user (clinician or caregiver) or to an organisation, for
-- categories of their data, for a purpose, until a date. Revocation sets revoked_at; the policy
-- decision point reads this table on every decision (no cache), so it takes effect at once.
CREATE TABLE consents (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  grantee_kind text NOT NULL CHECK (grantee_kind IN ('user', 'organisation')),
  grantee_id uuid NOT NULL,
  -- data categories: 'device-data', 'demographics', 'reports', 'devices'
  categories text[] NOT NULL CHECK (cardinality(categories) >= 1),
  access text NOT NULL CHECK (access IN ('read', 'read-write')),
  purpose text NOT NULL CHECK (purpose IN ('treatment', 'care-coordination', 'caregiving', 'research', 'payment', 'operations')),
  expires_at timestamptz NOT NULL,
  granted_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  revoked_by uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX consents_patient ON consents (patient_id) WHERE revoked_at IS NULL;
CREATE INDEX consents_grantee ON consents (grantee_id) WHERE revoked_at IS NULL;

-- Emergency access by a clinician outside the care team: a written reason, at most 60 minutes.
CREATE TABLE break_glass_sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  patient_id uuid NOT NULL REFERENCES patients (id),
  reason text NOT NULL CHECK (length(reason) BETWEEN 10 AND 1000),
  started_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  ended_at timestamptz,
  reviewed_at timestamptz,
  reviewed_by uuid REFERENCES users (id) ON DELETE SET NULL,
  CONSTRAINT break_glass_sessions_at_most_an_hour CHECK (expires_at > started_at AND expires_at <= started_at + interval '60 minutes')
);
CREATE INDEX break_glass_sessions_user_patient ON break_glass_sessions (user_id, patient_id, expires_at);

-- A backend service (client credentials, SMART system/*.rs) acts within one organisation.
ALTER TABLE oauth_clients ADD COLUMN organisation_id uuid REFERENCES organisations (id);
