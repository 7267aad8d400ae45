-- The outbox churns (every row is inserted, updated once, deleted a day later), so the default 10-20 %
-- thresholds leave its statistics describing a table of another size for long stretches: analyze
-- and vacuum it after a fixed number of changed rows instead.
ALTER TABLE outbox SET (
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_vacuum_insert_threshold = 1000
);

-- The active relay's heartbeat: a standby that sees neither a beat nor any query of the lock holder's
-- session for the takeover time ends that session and takes the lock (the Kafka fencing makes the
-- old relay harmless if it wakes up).
CREATE TABLE relay_heartbeat (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    lock_pid  integer NOT NULL,
    beat_at   timestamptz NOT NULL
);
