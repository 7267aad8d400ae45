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
-- Only while this session still holds the relay lock: a relay whose term ended marks nothing.
UPDATE outbox SET published_at = now()
WHERE position = ANY($1::bigint[])
  AND EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
        AND classid::bigint = ($2::bigint >> 32) AND objid::bigint = ($2::bigint & 4294967295)
        AND objsubid = 1
  );

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

-- name: holds_lock
-- Whether this session holds the relay lock (a bigint advisory lock shows as two 32-bit halves).
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)
      AND objsubid = 1
);

-- name: beat
-- The active relay's heartbeat, written from a second connection every fraction of the takeover time;
-- only while its lock session ($1) still holds the lock, so a relay that woke up late beats for nobody.
INSERT INTO relay_heartbeat (lock_pid, beat_at)
SELECT $1, now()
WHERE EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = $1
      AND classid::bigint = ($2::bigint >> 32) AND objid::bigint = ($2::bigint & 4294967295)
      AND objsubid = 1
)
ON CONFLICT (singleton) DO UPDATE SET lock_pid = excluded.lock_pid, beat_at = excluded.beat_at;

-- name: stale_holder
-- The session holding the relay lock, if neither it nor its heartbeat did anything for $2 seconds.
SELECT l.pid
FROM pg_locks AS l
JOIN pg_stat_activity AS a ON a.pid = l.pid
LEFT JOIN relay_heartbeat AS h ON h.lock_pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid::bigint = ($1::bigint >> 32) AND l.objid::bigint = ($1::bigint & 4294967295)
  AND l.objsubid = 1
  AND greatest(h.beat_at, a.state_change) < clock_timestamp() - make_interval(secs => $2);

-- name: end_session
-- Ends a stale holder's session, so the lock is free; waits up to a second for it to be gone.
SELECT pg_terminate_backend($1, 1000);

-- name: begin_waiting
-- Granted only while no write that skipped its NOTIFY is in flight (migration 0011).
SELECT pg_try_advisory_lock($1);

-- name: end_waiting
SELECT pg_advisory_unlock($1);
