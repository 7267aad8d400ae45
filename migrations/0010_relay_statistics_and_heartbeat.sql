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
