-- name: try_lock
SELECT pg_try_advisory_lock($1);

-- name: any_parked
-- Asked before every read, through the tiny partial index of parked rows: the common case (nothing
-- parked) then reads with `pending` alone, which has no join that a stale plan could turn into a scan.
SELECT EXISTS (SELECT 1 FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL);

-- name: parked_accounts
-- Accounts held back by a parked row, and the position from which on their events wait.
SELECT account_id, min(position) AS position
FROM outbox
WHERE parked_at IS NOT NULL AND published_at IS NULL
GROUP BY account_id;

-- name: pending
-- The next rows to publish, oldest first: a walk of the pending index, whatever its size.
-- A pending flag, not a high-water mark: a row whose transaction took a lower position but
-- committed later is simply found on a later pass. Per-account order holds because writers lock the
-- account row before inserting the event, so an account's positions increase in commit order. No
-- `txid < pg_snapshot_xmin(pg_current_snapshot())` filter: it would only order events of different
-- accounts, which nobody relies on, while any long transaction anywhere would stall every account.
SELECT position, event_id, event_type, account_id, organization_id, client_id, account_version,
       payload::text AS payload, created_at, attempts
FROM outbox
WHERE published_at IS NULL AND parked_at IS NULL
ORDER BY position
LIMIT $1;

-- name: pending_around_parked
-- The same walk, leaving out an account's events after its parked one (given as two arrays from
-- parked_accounts), so they keep their order; the held-back set is an argument, never a join.
SELECT position, event_id, event_type, account_id, organization_id, client_id, account_version,
       payload::text AS payload, created_at, attempts
FROM outbox AS o
WHERE o.published_at IS NULL AND o.parked_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM unnest($2::uuid[], $3::bigint[]) AS held (account_id, position)
      WHERE held.account_id = o.account_id AND held.position < o.position
  )
ORDER BY o.position
LIMIT $1;

-- name: mark_published
UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[]);

-- name: record_failures
UPDATE outbox AS o
SET attempts = o.attempts + 1,
    last_error = f.error,
    parked_at = CASE WHEN o.attempts + 1 >= $3 THEN now() END
FROM unnest($1::bigint[], $2::text[]) AS f (position, error)
WHERE o.position = f.position
RETURNING o.position, o.parked_at IS NOT NULL AS parked;

-- name: delete_published
-- In slices, so a large clean-up never holds many row locks or one long transaction.
DELETE FROM outbox
WHERE position IN (
    SELECT position FROM outbox
    WHERE published_at < now() - make_interval(secs => $1)
    ORDER BY published_at
    LIMIT $2
);

-- name: backlog
-- Each figure through its partial index, so the statistics round never scans the published rows.
SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS pending,
       coalesce(extract(epoch FROM now() - (
           SELECT created_at FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
           ORDER BY position LIMIT 1
       )), 0)::float8 AS oldest_pending_age,
       (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL) AS parked;

-- name: retry_parked
UPDATE outbox SET parked_at = NULL, attempts = 0
WHERE parked_at IS NOT NULL AND published_at IS NULL;

-- name: discard_parked
-- Deleted, so the account's later events flow and nothing counts them as parked any more; the
-- caller reports what was dropped.
DELETE FROM outbox
WHERE parked_at IS NOT NULL AND published_at IS NULL
RETURNING event_id, event_type, account_id, account_version, last_error;
