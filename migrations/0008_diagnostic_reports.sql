-- DiagnosticReport (issue 6; ADR-0011): a clinician's report over a patient's observations.
-- The conclusion is PHI, sealed with the patient's data key (associated data
-- "<patient id>:diagnostic-report:<id>"); the columns searches need are not.

CREATE TABLE diagnostic_reports (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  -- LOINC code of the report (e.g. 11502-2 laboratory report)
  code text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  code_display text CHECK (length(code_display) <= 200),
  status text NOT NULL DEFAULT 'final' CHECK (status IN ('registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended')),
  effective_at timestamptz NOT NULL,
  effective_offset_minutes smallint NOT NULL DEFAULT 0 CHECK (effective_offset_minutes BETWEEN -1080 AND 1080),
  issued_at timestamptz NOT NULL,
  -- the readings (FHIR Observations) the report is about, all of the same patient
  result_reading_ids uuid[] NOT NULL DEFAULT '{}',
  conclusion_sealed text,
  -- the user who wrote it
  performer_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX diagnostic_reports_patient_time ON diagnostic_reports (patient_id, effective_at, id);
CREATE INDEX diagnostic_reports_patient_code ON diagnostic_reports (patient_id, code);
