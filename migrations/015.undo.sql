DROP TABLE projection_parked_events;
