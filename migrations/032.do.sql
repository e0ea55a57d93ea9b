-- Parked per read model (issue 11): an event that one projection cannot apply is parked for that
-- projection only (and applied to the others), so a row now names the projection (its checkpoint
-- name). Rows parked before this migration were parked for every read model: their projection is '*'.
ALTER TABLE projection_parked_events ADD COLUMN projection text NOT NULL DEFAULT '*';
ALTER TABLE projection_parked_events ALTER COLUMN projection DROP DEFAULT;
ALTER TABLE projection_parked_events DROP CONSTRAINT projection_parked_events_pkey;
ALTER TABLE projection_parked_events ADD PRIMARY KEY (event_id, projection);
