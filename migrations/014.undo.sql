DROP TABLE profile_history;
