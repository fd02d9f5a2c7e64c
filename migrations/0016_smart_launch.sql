-- SMART App Launch (ADR-0018). An EHR launch: a signed-in clinician opens an app for one patient;
-- POST /api/v2/smart/launch records the context under an opaque id the app passes back as the
-- `launch` parameter. One use, short-lived, for one client.
CREATE TABLE smart_launch_contexts (
  id text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  patient_id uuid NOT NULL REFERENCES patients (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX smart_launch_contexts_expiry ON smart_launch_contexts (expires_at);

-- The launch context a grant was last authorized with (EHR launch: the launch's patient; standalone
-- launch/patient: none, the patient's own record is used). Read when a token is issued or refreshed.
CREATE TABLE smart_grant_contexts (
  grant_id text PRIMARY KEY,
  patient_id uuid NOT NULL REFERENCES patients (id),
  launch_id text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
