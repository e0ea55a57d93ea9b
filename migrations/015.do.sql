-- Events the projections could never apply (their values break a read model's SQL or a handler
-- throws): the runner moved the checkpoints past them, recording each here, rather than stop every
-- read model behind one event. The event itself stays in the log; a fixed projection's rebuild
-- applies it. See docs/operations.md ("Parked events").
CREATE TABLE projection_parked_events (
  event_id uuid PRIMARY KEY,
  cursor text NOT NULL,
  position bigint NOT NULL,
  stream_id text NOT NULL,
  event_type text NOT NULL,
  reason text NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now()
);
