-- The event log: every event of every stream, in one table, never updated or deleted.
CREATE TABLE events (
  -- Global order of insertion. Not gap-free (a rolled-back insert burns numbers) and not commit
  -- order: readers order by (tx_id, position), see docs/architecture.md.
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The writing transaction. Readers only return rows whose transaction is older than every
  -- transaction still running, so none commits later behind a reader's cursor.
  tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_id text NOT NULL,
  stream_version integer NOT NULL CHECK (stream_version >= 1),
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  schema_version integer NOT NULL DEFAULT 1 CHECK (schema_version >= 1),
  data jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  -- The user the stream belongs to (an email), when it belongs to one.
  owner text,
  -- True when data or metadata held characters jsonb cannot store (U+0000, lone surrogates); they
  -- are kept as U+E000 sequences and restored by the store on read.
  text_escaped boolean NOT NULL DEFAULT false,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- readAll: the whole log in reader order; a page is a range scan from the cursor.
CREATE INDEX events_tx_position_idx ON events (tx_id, position);
-- readAll({ owner }): "everything of user X after cursor C" is a range scan.
CREATE INDEX events_owner_tx_position_idx ON events (owner, tx_id, position) WHERE owner IS NOT NULL;
-- readAll({ types }): one range scan per type, merged.
CREATE INDEX events_type_tx_position_idx ON events (event_type, tx_id, position);
-- Analysts filter by time; rows arrive in time order, so a tiny BRIN index serves ranges.
CREATE INDEX events_recorded_at_idx ON events USING brin (recorded_at);
