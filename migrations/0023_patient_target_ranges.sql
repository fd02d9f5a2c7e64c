-- A patient's own target range per measurement (issue 15; ADR-0027), set by their care team. The
-- range is health data: sealed with the patient's data key (aad "target-range:<id>"), so erasure's
-- crypto-shredding takes it with the rest, and the re-encryption job moves it (SEALED_COLUMNS).
-- One row per (patient, code); no row means the population default of the code.
CREATE TABLE patient_target_ranges (
  id uuid PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
  -- LOINC: glucose (mass and molar), systolic and diastolic blood pressure, heart rate
  code text NOT NULL CHECK (code IN ('2339-0', '41653-7', '15074-8', '14743-9', '8480-6', '8462-4', '8867-4')),
  -- {"low": number, "high": number, "unit": string}, sealed
  range_sealed text NOT NULL,
  -- 'user:<id>' of the clinician who set it (an identifier, never a name)
  set_by text NOT NULL CHECK (length(set_by) BETWEEN 1 AND 200),
  updated_at timestamptz NOT NULL,
  CONSTRAINT patient_target_ranges_patient_code_key UNIQUE (patient_id, code)
);
