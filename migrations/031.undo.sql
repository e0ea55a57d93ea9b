DROP TABLE fallback_parked_events;
DROP TABLE store_epoch;
