-- Where each projection rebuild has got to (src/rebuild): its shadow tables hold every event up to
-- `cursor`. Written in the same transaction as the shadow rows, so a rebuild that is interrupted
-- resumes exactly there. `fingerprint` covers the live tables' definitions and the projection's
-- code: when either changed since, the rebuild starts over instead of resuming.
CREATE TABLE projection_rebuilds (
  name text PRIMARY KEY,
  cursor text,
  position bigint,
  -- Events read from the log so far (all of them, whether or not the projection handles them).
  events bigint NOT NULL DEFAULT 0,
  fingerprint text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
