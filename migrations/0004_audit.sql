-- The tamper-evident audit trail (issue 7; see docs/adr/0006-audit-trail.md).
-- K independent hash chains (audit_chain_heads holds one row per chain, locked per append), so
-- K writers append in parallel instead of queueing on one head; signed checkpoints of every
-- chain's head, also exported outside the database, anchor the chains against rewriting and
-- truncation. Identifiers only: no names, birth dates or reading values ever land here.

CREATE TABLE audit_entries (
  -- UUIDv7 made by the application before the insert, so it is covered by the hash (a bigint
  -- identity is only known after the insert) and stays time-ordered for the B-tree.
  id uuid PRIMARY KEY,
  chain smallint NOT NULL CHECK (chain BETWEEN 0 AND 63),
  seq bigint NOT NULL CHECK (seq >= 1),
  occurred_at timestamptz NOT NULL,
  actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'device', 'client', 'anonymous', 'system')),
  actor_id text,
  client_id text,
  ip text,
  user_agent text CHECK (length(user_agent) <= 256),
  action text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
  resource_type text,
  resource_id text,
  patient_id text,
  outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure', 'error')),
  status integer CHECK (status BETWEEN 100 AND 599),
  decision_rule text,
  consent_id text,
  break_glass boolean NOT NULL DEFAULT false,
  request_id text,
  trace_id text,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT audit_entries_chain_seq_key UNIQUE (chain, seq)
);
CREATE INDEX audit_entries_occurred_at ON audit_entries (occurred_at);
CREATE INDEX audit_entries_patient ON audit_entries (patient_id, occurred_at) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_entries_actor ON audit_entries (actor_id, occurred_at) WHERE actor_id IS NOT NULL;

-- One row per chain: the last seq and hash, locked (SELECT … FOR UPDATE) by each append.
CREATE TABLE audit_chain_heads (
  chain smallint PRIMARY KEY CHECK (chain BETWEEN 0 AND 63),
  seq bigint NOT NULL CHECK (seq >= 0),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
INSERT INTO audit_chain_heads (chain, seq, hash)
SELECT g, 0, repeat('0', 64) FROM generate_series(0, 63) AS g;

-- Ed25519 checkpoint signing keys: the private key (PKCS#8) sealed by the keyring, bound to
-- its kid; the public key (SPKI, base64url) stays for verification after a rotation.
CREATE TABLE audit_signing_keys (
  kid text PRIMARY KEY,
  public_key text NOT NULL,
  private_key_sealed text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);

CREATE TABLE audit_checkpoints (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL,
  -- {"<chain>": {"seq": n, "hash": "<hex>"}, …} for every chain with at least one entry
  heads jsonb NOT NULL,
  signature text NOT NULL,
  kid text NOT NULL REFERENCES audit_signing_keys (kid)
);
CREATE INDEX audit_checkpoints_created_at ON audit_checkpoints (created_at DESC);

-- Append-only. On PostgreSQL the application's role also loses UPDATE and DELETE on these
-- tables (ADR-0006 gives the REVOKE); this trigger refuses them for every role, owner included.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
