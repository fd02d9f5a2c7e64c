-- ADR-0033: a bound device's principal carries its patient's organisation and erasure, so a change
-- to the patient's row is announced on vigil_auth as "patient:<patient id>", and every instance
-- drops the principals bound to that patient (the erasure of a patient stops their devices at once
-- here and within a second elsewhere). Identifiers only, delivered at COMMIT.
CREATE TRIGGER patients_patient_auth_notify AFTER UPDATE OR DELETE ON patients
  FOR EACH ROW EXECUTE FUNCTION vigil_auth_notify('patient', 'id');
