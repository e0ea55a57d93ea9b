-- Back to one row per event: keep the first projection's row of each event.
DELETE FROM projection_parked_events AS later
USING projection_parked_events AS first
WHERE later.event_id = first.event_id AND later.projection > first.projection;
ALTER TABLE projection_parked_events DROP CONSTRAINT projection_parked_events_pkey;
ALTER TABLE projection_parked_events DROP COLUMN projection;
ALTER TABLE projection_parked_events ADD PRIMARY KEY (event_id);
