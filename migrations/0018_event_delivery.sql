-- Event delivery from the outbox (issue 16; ADR-0020). The outbox rows gain a stable event id
-- (what receivers deduplicate on) and the patient they concern (the ordering key). The relay
-- fans each committed row out into one delivery row per matching destination — a webhook
-- subscription, or the NATS JetStream stream — and works through those rows with retries,
-- back-off and a dead-letter state. Identifiers only: no reading value is ever stored here.

ALTER TABLE outbox ADD COLUMN event_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE outbox ADD COLUMN patient_id uuid;
CREATE UNIQUE INDEX outbox_event_id ON outbox (event_id);
-- pruning delivered rows by age
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE TABLE event_subscriptions (
  id uuid PRIMARY KEY,
  -- webhook: /api/v2/subscriptions; fhir: /fhir/R4/Subscription (rest-hook channel)
  kind text NOT NULL CHECK (kind IN ('webhook', 'fhir')),
  organisation_id uuid REFERENCES organisations (id),
  -- who created it, and whose authorization the policy decision point checks at delivery time
  owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'client', 'organisation')),
  owner_id text NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 200),
  owner_client_id text CHECK (length(owner_client_id) <= 200),
  -- the scopes of the token that created it: they narrow every delivery decision
  scopes text[] NOT NULL DEFAULT '{}',
  launch_patient_id uuid,
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
  event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
  -- optional patient filter
  patient_id uuid REFERENCES patients (id),
  payload text NOT NULL DEFAULT 'id-only' CHECK (payload IN ('empty', 'id-only', 'full-resource')),
  description text CHECK (length(description) <= 500),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('requested', 'active', 'error', 'off')),
  status_reason text CHECK (length(status_reason) <= 500),
  -- Standard Webhooks secrets, sealed with the keyring; the previous one is kept (and signs too)
  -- until previous_secret_expires_at after a rotation.
  secret_sealed text,
  previous_secret_sealed text,
  previous_secret_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_subscriptions_active ON event_subscriptions (status) WHERE status = 'active';
CREATE INDEX event_subscriptions_organisation ON event_subscriptions (organisation_id);

CREATE TABLE event_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- 'subscription:<uuid>' or 'nats': deliveries to one destination of one ordering key go in id order
  destination text NOT NULL CHECK (length(destination) BETWEEN 1 AND 100),
  subscription_id uuid REFERENCES event_subscriptions (id) ON DELETE CASCADE,
  outbox_id bigint NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  -- the patient, or the event id for an event about no patient
  order_key text NOT NULL,
  -- pending → delivered | withheld (the policy decision point refused at delivery time) | dead
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'withheld', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a claim by the relay that is sending it now (no second sender until it lapses)
  claimed_until timestamptz,
  last_status integer,
  last_error text CHECK (length(last_error) <= 500),
  event_created_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (destination, outbox_id)
);
CREATE INDEX event_deliveries_pending ON event_deliveries (destination, order_key, id) WHERE status = 'pending';
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX event_deliveries_dead ON event_deliveries (id) WHERE status = 'dead';
CREATE INDEX event_deliveries_finished ON event_deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id, id);
