-- Read model "profile history" (projections/profile-history.ts): one row per change of a profile.
-- `snapshot` is the profile after the change; the next change reads its old values from it.
CREATE TABLE profile_history (
  owner text NOT NULL,
  version integer NOT NULL,
  stream_id text NOT NULL,
  kind text NOT NULL,
  changes jsonb NOT NULL,
  snapshot jsonb,
  recorded_at timestamptz NOT NULL,
  actor text,
  cursor text NOT NULL,
  PRIMARY KEY (owner, version)
);
