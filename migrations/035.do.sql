-- Erasures (src/erasure, docs/privacy.md): one row per request to erase a user's data, the audit
-- trail of it. While pending or running it holds the user's email (`subject`, to resume after a
-- crash) and the secret that renames the erased streams (`stream_key`); both are cleared when it
-- completes, so a completed erasure holds nothing derived from the user: who asked, when, how much.
CREATE TABLE erasures (
  id uuid PRIMARY KEY,
  -- 'self' (DELETE /api/me) or the operator who ran npm run erase.
  requested_by text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'running', 'completed')),
  subject text,
  stream_key text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz,
  -- How many times it was taken up again after being interrupted (a process killed mid-way).
  resumed integer NOT NULL DEFAULT 0,
  -- Events rewritten as tombstones, and read-model or other rows deleted.
  events_erased bigint NOT NULL DEFAULT 0,
  rows_erased bigint NOT NULL DEFAULT 0,
  CONSTRAINT erasures_subject_only_while_open CHECK ((state = 'completed') = (subject IS NULL AND stream_key IS NULL))
);
-- One open erasure per user: a second request finds the first.
CREATE UNIQUE INDEX erasures_open_subject ON erasures (subject) WHERE subject IS NOT NULL;

COMMENT ON TABLE erasures IS 'Requests to erase a user''s data (docs/privacy.md). A completed row holds no trace of the user: not the email, nor a hash of it.';
COMMENT ON COLUMN erasures.subject IS 'The user''s email while the erasure is pending or running; NULL once completed.';
