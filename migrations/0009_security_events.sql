-- Security events raised by the anomaly detector over the audit trail (issue 7; ADR-0006,
-- addendum "Anomaly detection"). Identifiers only: account, user, device and client ids, IP
-- addresses, patient ids, entry ids and counts — never a name, an email or a reading.

CREATE TABLE security_events (
  id uuid PRIMARY KEY,
  -- failed-logins | failed-logins-ip | many-patients | new-login-ip | break-glass | forbidden-burst
  kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
  -- whom or what the burst is about: an account id, an IP address, an actor id
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
  -- the time of the first audit entry of the burst (UTC)
  window_start timestamptz NOT NULL,
  -- the id of the audit entry that crossed the threshold: the same trail gives the same key on
  -- every run and every instance, so an event is raised exactly once per burst
  window_key text NOT NULL CHECK (length(window_key) BETWEEN 1 AND 200),
  -- identifiers and counts only
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by text,
  -- webhook delivery (SECURITY_EVENTS_WEBHOOK_URL): retried on each run until delivered; the
  -- lease keeps two instances from posting the same event at once
  delivered_at timestamptz,
  delivery_attempts integer NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0),
  delivery_lease_until timestamptz,
  CONSTRAINT security_events_burst_key UNIQUE (kind, subject, window_key),
  CONSTRAINT security_events_acknowledged CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE INDEX security_events_created ON security_events (created_at DESC, id DESC);
CREATE INDEX security_events_undelivered ON security_events (created_at) WHERE delivered_at IS NULL;

-- The detector's high-water mark: one row per detector. Each run scans the entries after it,
-- plus a look-back of the longest rule window (twice, for the crossing test) and a margin for
-- entries committed late with an earlier occurred_at.
CREATE TABLE anomaly_cursor (
  name text PRIMARY KEY,
  high_water timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The auditor's searches: by action, and by client, in time order (patient and actor have
-- indexes from 0004).
CREATE INDEX audit_entries_action_time ON audit_entries (action, occurred_at);
CREATE INDEX audit_entries_client_time ON audit_entries (client_id, occurred_at) WHERE client_id IS NOT NULL;
CREATE INDEX audit_entries_break_glass ON audit_entries (occurred_at) WHERE break_glass;
