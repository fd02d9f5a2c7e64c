-- FHIR R4 Subscriptions (Subscriptions R5 Backport IG; issue 16, ADR-0021): the topic a FHIR
-- subscription follows, its heartbeat, and the per-subscription event numbers that
-- notifications, $status and $events count with.

ALTER TABLE event_subscriptions ADD COLUMN topic text CHECK (length(topic) <= 500);
ALTER TABLE event_subscriptions ADD COLUMN heartbeat_seconds integer CHECK (heartbeat_seconds BETWEEN 1 AND 86400);
ALTER TABLE event_subscriptions ADD COLUMN events_since_start bigint NOT NULL DEFAULT 0;
ALTER TABLE event_subscriptions ADD COLUMN last_notified_at timestamptz;
ALTER TABLE event_subscriptions ADD COLUMN end_at timestamptz;
ALTER TABLE event_deliveries ADD COLUMN event_number bigint;
CREATE INDEX event_deliveries_event_number ON event_deliveries (subscription_id, event_number) WHERE event_number IS NOT NULL;
