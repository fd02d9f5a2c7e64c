-- Issue 17 (ADR-0029): a change to what a bearer token's principal is built from is announced on
-- the channel vigil_auth, so every instance drops the principals it cached for it. Delivered at
-- COMMIT (NOTIFY is transactional), identifiers only: "token:<keyed hash>", "account:<user id>",
-- "device:<device id>", "client:<client id>". Never the token, never a value.
CREATE FUNCTION vigil_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before text;
  after text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    before := to_jsonb(OLD) ->> TG_ARGV[1];
    IF before IS NOT NULL THEN PERFORM pg_notify('vigil_auth', TG_ARGV[0] || ':' || before); END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    after := to_jsonb(NEW) ->> TG_ARGV[1];
    IF after IS NOT NULL AND after IS DISTINCT FROM before THEN PERFORM pg_notify('vigil_auth', TG_ARGV[0] || ':' || after); END IF;
  END IF;
  RETURN NULL;
END
$$;

-- A token revoked, consumed or swept (a new token, an INSERT, changes nothing cached).
CREATE TRIGGER oidc_payloads_auth_notify AFTER UPDATE OR DELETE ON oidc_payloads
  FOR EACH ROW WHEN (OLD.model IN ('AccessToken', 'ClientCredentials')) EXECUTE FUNCTION vigil_auth_notify('token', 'id');
-- An account disabled or changed; its roles; the patient record it owns.
CREATE TRIGGER users_auth_notify AFTER UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('account', 'id');
CREATE TRIGGER user_roles_auth_notify AFTER INSERT OR UPDATE OR DELETE ON user_roles FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('account', 'user_id');
CREATE TRIGGER patients_auth_notify AFTER INSERT OR UPDATE OR DELETE ON patients FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('account', 'user_id');
-- A device disabled, bound or unbound.
CREATE TRIGGER devices_auth_notify AFTER UPDATE OR DELETE ON devices FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('device', 'id');
CREATE TRIGGER device_bindings_auth_notify AFTER INSERT OR UPDATE OR DELETE ON device_bindings FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('device', 'device_id');
-- A client changed or removed (a backend service's organisation).
CREATE TRIGGER oauth_clients_auth_notify AFTER UPDATE OR DELETE ON oauth_clients FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('client', 'client_id');
