-- Per-device daily quota counters (issue 5; ADR-0010). One row per device per UTC day, counting
-- the readings it stored that day; incremented in the transaction that stores them, so a rolled
-- back batch costs nothing and every instance sees the same count. Old rows are pruned by date.

CREATE TABLE device_daily_usage (
  device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  day date NOT NULL,
  readings integer NOT NULL CHECK (readings >= 0),
  PRIMARY KEY (device_id, day)
);
CREATE INDEX device_daily_usage_day ON device_daily_usage (day);
