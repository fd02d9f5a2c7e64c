-- Devices, their bindings to patients, readings, idempotency records and the outbox (issue 5;
-- ADR-0010 ingestion). Reading values are sealed with the patient's data key; the columns queries
-- need (pseudonymous patient id, device, LOINC code, times) are not.

CREATE TABLE devices (
  id uuid PRIMARY KEY,
  -- the device's own OAuth client (confidential: private_key_jwt or a secret; or paired through
  -- the device authorization grant). One client per device.
  client_id text UNIQUE REFERENCES oauth_clients (client_id) ON DELETE SET NULL,
  organisation_id uuid REFERENCES organisations (id),
  manufacturer text NOT NULL CHECK (length(manufacturer) BETWEEN 1 AND 200),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  serial text NOT NULL CHECK (length(serial) BETWEEN 1 AND 200),
  type text NOT NULL CHECK (type IN ('glucometer', 'blood-pressure-monitor', 'pulse-oximeter', 'scale', 'thermometer', 'cgm', 'other')),
  firmware_version text CHECK (length(firmware_version) <= 100),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  -- per-device quota: readings a day (null: the configured default)
  daily_quota integer CHECK (daily_quota > 0),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT devices_serial_key UNIQUE (manufacturer, model, serial)
);
CREATE INDEX devices_organisation ON devices (organisation_id);

-- One patient at a time; history kept (unbound_at set when the device moves on).
CREATE TABLE device_bindings (
  id uuid PRIMARY KEY,
  device_id uuid NOT NULL REFERENCES devices (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  bound_at timestamptz NOT NULL,
  unbound_at timestamptz,
  bound_by text,
  CONSTRAINT device_bindings_period CHECK (unbound_at IS NULL OR unbound_at >= bound_at)
);
CREATE UNIQUE INDEX device_bindings_current ON device_bindings (device_id) WHERE unbound_at IS NULL;
CREATE INDEX device_bindings_patient ON device_bindings (patient_id) WHERE unbound_at IS NULL;

CREATE TABLE readings (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  device_id uuid REFERENCES devices (id),
  -- LOINC code (e.g. 2339-0 glucose, 85354-9 blood pressure panel, 8867-4 heart rate)
  code text NOT NULL,
  -- FHIR Observation.category (vital-signs, laboratory)
  category text NOT NULL DEFAULT 'vital-signs',
  -- the device's clock, in UTC, and the offset it reported (minutes east of UTC)
  effective_at timestamptz NOT NULL,
  effective_offset_minutes smallint NOT NULL CHECK (effective_offset_minutes BETWEEN -1080 AND 1080),
  received_at timestamptz NOT NULL,
  -- the dedup key's parts: (device, client id) or (device, code, time to the ms, sequence)
  client_reading_id text CHECK (length(client_reading_id) <= 200),
  sequence bigint,
  -- JSON {value, unit, components:[{code, value, unit}], note} sealed with the patient's data
  -- key, associated data "reading:<id>:<patient id>"
  value_sealed text NOT NULL,
  -- keyed HMAC of the normalised content: tells a true duplicate from a conflicting reading
  -- under the same dedup key without storing the value in plaintext
  content_index text NOT NULL,
  -- which API contract wrote it (v1, v2, fhir)
  source text NOT NULL DEFAULT 'v2',
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX readings_device_client_id ON readings (device_id, client_reading_id) WHERE client_reading_id IS NOT NULL;
CREATE UNIQUE INDEX readings_device_code_time_seq ON readings (device_id, code, effective_at, coalesce(sequence, -1)) WHERE client_reading_id IS NULL;
CREATE INDEX readings_patient_code_time ON readings (patient_id, code, effective_at, id);
CREATE INDEX readings_patient_time ON readings (patient_id, effective_at, id);
CREATE INDEX readings_patient_updated ON readings (patient_id, updated_at);

-- Idempotency-Key records: the stored response of the first request under a key, replayed for
-- an identical retry; another body under the same key is refused (422). Scoped to the caller.
CREATE TABLE idempotency_keys (
  principal text NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash text NOT NULL,
  status_code integer NOT NULL,
  response_body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- The transactional outbox: one row per accepted batch, written in the batch's transaction,
-- for the integrations that consume it. Identifiers only, never values.
CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
