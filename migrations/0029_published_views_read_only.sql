-- ADR-0034: the published views are for reading. A simple view is updatable in PostgreSQL, so
-- without this an INSERT, UPDATE or DELETE through published_users (say) would reach the users
-- table and bypass its owner: the rules the owner's service keeps (an account's status, a
-- device's binding, a consent's grantor) would no longer be the only way in. Each view now refuses
-- every write with an INSTEAD OF trigger; a read is unaffected (triggers play no part in planning
-- a SELECT, so the plans stay those of the tables). A view added later gets the same trigger (a
-- test writes through every published view and expects the refusal).
CREATE FUNCTION published_view_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is read-only: write through the module that owns the table', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER published_users_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_users
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_user_roles_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_user_roles
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_organisations_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_organisations
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_patients_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_patients
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_patient_data_keys_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_patient_data_keys
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_care_team_members_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_care_team_members
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_consents_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_consents
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_break_glass_sessions_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_break_glass_sessions
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_devices_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_devices
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_device_bindings_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_device_bindings
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_readings_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_readings
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
CREATE TRIGGER published_oauth_clients_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON published_oauth_clients
  FOR EACH ROW EXECUTE FUNCTION published_view_read_only();
