-- The store's epoch: with the cluster's system identifier (pg_control_system()), it names this log
-- in cursors. A repair of a copied database bumps it, so cursors issued before the copy are refused
-- rather than read against transaction ids that mean something else now.
CREATE TABLE store_epoch (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  epoch integer NOT NULL DEFAULT 1 CHECK (epoch >= 1),
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO store_epoch DEFAULT VALUES;

-- Events an instance accepted on its in-memory fallback that could not be forwarded to this log as
-- they were (their stream had moved on here) nor decided again: kept here, never dropped silently.
CREATE TABLE fallback_parked_events (
  event_id uuid PRIMARY KEY,
  stream_id text NOT NULL,
  stream_version integer NOT NULL,
  event_type text NOT NULL,
  schema_version integer NOT NULL,
  -- JSON text: the values as accepted (jsonb refuses some strings the events table escapes).
  data text NOT NULL,
  metadata text NOT NULL,
  owner text,
  recorded_at timestamptz NOT NULL,
  reason text NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now()
);
