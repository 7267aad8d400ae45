-- name: outbox_stats
-- Each part uses a partial index (pending, parked, published_at), so a scrape stays cheap.
SELECT
    (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS pending,
    coalesce(
        (SELECT extract(epoch FROM clock_timestamp() - created_at)
         FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
         ORDER BY position LIMIT 1),
        0
    )::float8 AS oldest_pending_age,
    (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked,
    (SELECT count(*) FROM outbox WHERE published_at > clock_timestamp() - interval '1 minute')
        AS published_last_minute;

-- name: pollable_accounts
-- Live accounts a worker fleet should own (every status but paused and disconnected), by integration,
-- from the counters the writing transactions keep: one short walk of account_counts, no accounts scan.
SELECT integration, sum(count)::bigint AS accounts
FROM account_counts
WHERE status NOT IN ('paused', 'disconnected')
GROUP BY integration;
