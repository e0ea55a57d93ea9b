-- Where each projection has got to in the event log. A batch of events and the checkpoint that
-- covers it are written in one transaction, and the row is taken FOR UPDATE first, so several app
-- instances never apply the same event twice. `cursor` is the event store's opaque resume token.
CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  cursor text,
  position bigint,
  updated_at timestamptz NOT NULL DEFAULT now()
);
