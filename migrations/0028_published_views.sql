-- ADR-0034: each module publishes what other modules may read of the tables it owns, as a view
-- named published_<table> with the columns it chooses to show. Another module's repository reads
-- only these views, never the table itself (a test of the repositories fails otherwise), so a query
-- that joins several owners' rows stays one statement while each owner keeps its table private:
-- secrets (password hashes, pairing-code hashes, client secrets, wrapped keys) and sealed PHI that
-- the reader has no use for are not in the view at all. The views are simple (one table, no
-- aggregate), so PostgreSQL folds them into the query that uses them: the plans do not change.
-- They are read-only by contract; a write through one fails the table-ownership test.

-- users: accounts, roles, organisations. No password hash, no normalised email, no verification
-- or password-change times.
CREATE VIEW published_users AS
  SELECT id, email, display_name, status, created_at, updated_at FROM users;
CREATE VIEW published_user_roles AS
  SELECT user_id, role, organisation_id FROM user_roles;
CREATE VIEW published_organisations AS
  SELECT id, name, created_at FROM organisations;

-- patients: who a record belongs to and whether it is erased. No demographics, no identifier index.
CREATE VIEW published_patients AS
  SELECT id, user_id, organisation_id, version, created_at, updated_at, erased_at FROM patients;
-- Which data-key versions a patient has and whether each is still live; never the wrapped key.
CREATE VIEW published_patient_data_keys AS
  SELECT patient_id, version, created_at, wrapped_key IS NOT NULL AS live FROM patient_data_keys;

-- care: the relationships the policy decides on. No break-glass reason, no consent's grantor.
CREATE VIEW published_care_team_members AS
  SELECT patient_id, user_id, organisation_id, created_at FROM care_team_members;
CREATE VIEW published_consents AS
  SELECT id, patient_id, grantee_kind, grantee_id, categories, access, purpose, expires_at, revoked_at
    FROM consents;
CREATE VIEW published_break_glass_sessions AS
  SELECT id, user_id, patient_id, started_at, expires_at, ended_at FROM break_glass_sessions;

-- devices: the registry and its bindings. No pairing-code hash.
CREATE VIEW published_devices AS
  SELECT id, client_id, organisation_id, manufacturer, model, serial, type, firmware_version, status,
         daily_quota, version, created_at, updated_at
    FROM devices;
CREATE VIEW published_device_bindings AS
  SELECT id, device_id, patient_id, bound_at, unbound_at FROM device_bindings;

-- device-data: readings, sealed values included (the readers open them with the patient's key);
-- no content index (the deduplication HMAC) and no client reading id.
CREATE VIEW published_readings AS
  SELECT id, patient_id, device_id, code, category, effective_at, effective_offset_minutes, received_at,
         value_sealed, source, version, updated_at
    FROM readings;

-- security (the authorization server): a client's organisation and registered scope. No secret,
-- no keys, no other metadata.
CREATE VIEW published_oauth_clients AS
  SELECT client_id, organisation_id, metadata ->> 'scope' AS scope FROM oauth_clients;
