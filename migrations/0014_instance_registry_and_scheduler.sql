-- Several instances on one database (issue 12; ADR-0017).
-- The instance registry gains what instances must agree on and a heartbeat: an instance is live
-- while it has been seen within the last few heartbeats, whether or not it stopped cleanly.
ALTER TABLE service_instances ADD COLUMN public_url text;
ALTER TABLE service_instances ADD COLUMN last_seen_at timestamptz;
CREATE INDEX service_instances_live ON service_instances (last_seen_at DESC) WHERE stopped_at IS NULL;

-- Periodic jobs (audit checkpoints, anomaly scans, retention) run once per period across all
-- instances: an instance runs a job only if it claims the period by an atomic update of its row.
CREATE TABLE scheduled_jobs (
  name text PRIMARY KEY,
  last_run_at timestamptz NOT NULL,
  last_run_by uuid
);
