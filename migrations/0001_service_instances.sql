-- Every start of the service records itself: operators see which instances ran, when, and
-- which version, and a restart can be shown to keep the data it found.
CREATE TABLE service_instances (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  hostname text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz
);
CREATE INDEX service_instances_started_at ON service_instances (started_at DESC);
