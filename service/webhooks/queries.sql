-- Webhook endpoints and deliveries. Every API query names the organization: another organization's
-- endpoint does not exist here. The dispatcher's queries (try_lock onwards) span all organizations.

-- What every endpoint read and write answers with (the secrets stay in the table):
-- fragment: endpoint_columns
id, url, description, event_types, client_ids, enabled, disabled_reason, disabled_at,
previous_secret_expires_at, failing_since, version, created_at, updated_at

-- name: count_endpoints
SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1;

-- name: page_endpoints
SELECT {{endpoint_columns}}
FROM webhook_endpoints WHERE organization_id = $1
ORDER BY created_at, id
LIMIT $2 OFFSET $3;

-- name: get_endpoint
SELECT {{endpoint_columns}}
FROM webhook_endpoints WHERE id = $1 AND organization_id = $2;

-- name: lock_endpoint
SELECT {{endpoint_columns}}
FROM webhook_endpoints WHERE id = $1 AND organization_id = $2
FOR UPDATE;

-- name: organization_clients
SELECT id FROM clients WHERE organization_id = $1 AND id = ANY ($2::uuid[]);

-- name: lock_organization
SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::uuid::text, 0));

-- name: insert_endpoint
INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, client_ids, enabled,
                               disabled_reason, disabled_at, secret, secret_key_id)
VALUES ($1, $2, $3, $4, $5, $6, $7,
        CASE WHEN NOT $7 THEN $10 END, CASE WHEN NOT $7 THEN now() END, $8, $9)
RETURNING {{endpoint_columns}};

-- name: update_endpoint
-- Enabling clears the reason and the failure run; disabling through the API records $8 as reason.
UPDATE webhook_endpoints
SET url = $3, description = $4, event_types = $5, client_ids = $6, enabled = $7,
    disabled_reason = CASE WHEN $7 THEN NULL WHEN enabled THEN $8 ELSE disabled_reason END,
    disabled_at = CASE WHEN $7 THEN NULL WHEN enabled THEN now() ELSE disabled_at END,
    failing_since = CASE WHEN $7 AND NOT enabled THEN NULL ELSE failing_since END,
    version = version + 1, updated_at = now()
WHERE id = $1 AND organization_id = $2
RETURNING {{endpoint_columns}};

-- name: rotate_secret
-- The current secret keeps signing (as a second signature) for $5 seconds.
UPDATE webhook_endpoints
SET previous_secret = secret, previous_secret_key_id = secret_key_id,
    previous_secret_expires_at = now() + make_interval(secs => $5),
    secret = $3, secret_key_id = $4, version = version + 1, updated_at = now()
WHERE id = $1 AND organization_id = $2
RETURNING {{endpoint_columns}};

-- name: delete_endpoint
DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2 RETURNING id;

-- name: endpoint_exists
SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1 AND organization_id = $2);

-- name: count_deliveries
SELECT count(*) FROM webhook_deliveries AS d
JOIN webhook_endpoints AS e ON e.id = d.endpoint_id
WHERE d.endpoint_id = $1 AND e.organization_id = $2 AND ($3::text IS NULL OR d.state = $3);

-- fragment: delivery_rows
SELECT d.id, d.endpoint_id, d.event_id, d.account_id, d.state, d.attempts, d.next_attempt_at,
       d.last_attempt_at, d.last_status, d.last_error, d.last_latency_ms, d.history::text AS history,
       d.delivered_at, d.created_at, m.event_type, m.account_version
FROM webhook_deliveries AS d
JOIN webhook_endpoints AS e ON e.id = d.endpoint_id
JOIN webhook_messages AS m ON m.event_id = d.event_id

-- name: page_deliveries
{{delivery_rows}}
WHERE d.endpoint_id = $1 AND e.organization_id = $2 AND ($3::text IS NULL OR d.state = $3)
ORDER BY d.created_at DESC, d.id
LIMIT $4 OFFSET $5;

-- name: get_delivery
{{delivery_rows}}
WHERE d.id = $1 AND d.endpoint_id = $2 AND e.organization_id = $3;

-- name: retry_delivery
-- Back in line with a fresh schedule; its account's later deliveries wait behind it again.
UPDATE webhook_deliveries AS d
SET state = 'pending', attempts = 0, next_attempt_at = now()
FROM webhook_endpoints AS e
WHERE d.id = $1 AND d.endpoint_id = $2 AND e.id = d.endpoint_id AND e.organization_id = $3
RETURNING d.id;

-- name: replay
-- The organization's kept events since $3 that the endpoint's filters select, unless one is already
-- waiting for this endpoint.
INSERT INTO webhook_deliveries (endpoint_id, event_id, account_id, position)
SELECT e.id, m.event_id, m.account_id, m.position
FROM webhook_endpoints AS e
JOIN webhook_messages AS m ON m.organization_id = e.organization_id AND m.created_at >= $3
WHERE e.id = $1 AND e.organization_id = $2
  AND ('*' = ANY (e.event_types) OR m.event_type = ANY (e.event_types))
  AND (e.client_ids IS NULL OR m.client_id = ANY (e.client_ids))
  AND NOT EXISTS (
      SELECT 1 FROM webhook_deliveries AS p
      WHERE p.endpoint_id = e.id AND p.event_id = m.event_id AND p.state = 'pending'
  );

-- name: notify
SELECT pg_notify($1, '');

-- name: try_lock
SELECT pg_try_advisory_lock($1);

-- name: due
-- Per enabled endpoint with a free slot ($2 are full), its oldest due deliveries that are first in
-- their (endpoint, account) queue, at most $3; $1 are in flight (still pending here, so they hold
-- their accounts' later deliveries back). Each endpoint is scanned on its own, by due time, so one
-- endpoint's backlog (or retries waiting) neither crowds out nor slows the others' turns.
SELECT d.id, d.endpoint_id, d.attempts, m.position, m.event_id, m.event_type, m.account_id,
       m.organization_id, m.client_id, m.account_version, m.payload::text AS payload, m.created_at,
       e.url, e.secret, e.secret_key_id,
       CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret,
       e.previous_secret_key_id
FROM webhook_endpoints AS e
CROSS JOIN LATERAL (
    SELECT d.id, d.endpoint_id, d.event_id, d.attempts, d.position
    FROM webhook_deliveries AS d
    WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.next_attempt_at <= now()
      AND d.id <> ALL ($1::uuid[])
      -- First in its queue: a scalar subquery is one probe per candidate, whereas NOT EXISTS may be
      -- planned as an anti-join that reads the endpoint's whole backlog for each.
      AND d.position = (
          SELECT min(p.position) FROM webhook_deliveries AS p
          WHERE p.endpoint_id = d.endpoint_id AND p.account_id = d.account_id AND p.state = 'pending'
      )
    ORDER BY d.next_attempt_at, d.position
    LIMIT $3
) AS d
JOIN webhook_messages AS m ON m.event_id = d.event_id
WHERE e.enabled AND e.id <> ALL ($2::uuid[])
ORDER BY d.position
LIMIT $4;

-- name: never_analyzed
-- The planner takes a table without statistics for nearly empty: a first backlog's queue lookups then
-- scan the endpoint's whole backlog each, until autovacuum gets to it.
SELECT coalesce(last_analyze, last_autoanalyze) IS NULL
FROM pg_stat_user_tables WHERE relid = 'webhook_deliveries'::regclass;

-- name: analyze
ANALYZE webhook_deliveries, webhook_messages;

-- name: record_outcomes
-- One statement: the attempts ($3 NULL: no further attempt, delivered or given up; otherwise the next
-- one in $3 seconds), then their endpoints' health. Any success ends an endpoint's failure run; 410
-- ($10) disables it at once, and so does a run of failures older than $11 seconds. Returns the
-- endpoints disabled now and why.
WITH o AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::integer[], $5::text[], $6::float8[],
                         $7::timestamptz[]) AS o (id, state, delay, status, error, latency, at)
), attempts AS (
    UPDATE webhook_deliveries AS d
    SET state = o.state,
        attempts = d.attempts + 1,
        next_attempt_at = CASE WHEN o.delay IS NULL THEN d.next_attempt_at
                               ELSE o.at + make_interval(secs => o.delay) END,
        last_attempt_at = o.at,
        last_status = o.status,
        last_error = o.error,
        last_latency_ms = o.latency,
        delivered_at = CASE WHEN o.state = 'delivered' THEN o.at ELSE d.delivered_at END,
        history = jsonb_path_query_array(
            d.history || jsonb_build_array(jsonb_build_object(
                'at', api_timestamp(o.at), 'status', o.status, 'latencyMs', o.latency, 'error', o.error)),
            '$[last - 19 to last]')
    FROM o
    WHERE d.id = o.id
), later AS (
    -- The same account's later deliveries wait for this one: they become due no sooner than its next
    -- attempt (so the dispatcher's scan never meets them meanwhile), and at once when it is done.
    UPDATE webhook_deliveries AS l
    SET next_attempt_at = CASE WHEN x.delay IS NULL THEN now()
                               ELSE x.at + make_interval(secs => x.delay) END
    FROM (SELECT o.delay, o.at, d.endpoint_id, d.account_id, d.position
          FROM o JOIN webhook_deliveries AS d ON d.id = o.id) AS x
    WHERE l.endpoint_id = x.endpoint_id AND l.account_id = x.account_id AND l.state = 'pending'
      AND l.position > x.position
      AND CASE WHEN x.delay IS NULL THEN l.next_attempt_at > now()
               ELSE l.next_attempt_at < x.at + make_interval(secs => x.delay) END
), health AS (
    SELECT * FROM unnest($8::uuid[], $9::boolean[], $10::boolean[]) AS h (id, ok, gone)
), decided AS (
    SELECT e.id, h.ok,
           CASE WHEN h.gone THEN 'gone'
                WHEN NOT h.ok AND e.failing_since < now() - make_interval(secs => $11) THEN 'failing'
           END AS reason
    FROM webhook_endpoints AS e JOIN health AS h ON h.id = e.id
    WHERE e.enabled AND (NOT h.ok OR e.failing_since IS NOT NULL)
)
UPDATE webhook_endpoints AS e
SET failing_since = CASE WHEN d.ok THEN NULL ELSE coalesce(e.failing_since, now()) END,
    enabled = d.reason IS NULL,
    disabled_reason = CASE d.reason WHEN 'gone' THEN $12 WHEN 'failing' THEN $13 END,
    disabled_at = CASE WHEN d.reason IS NOT NULL THEN now() END
FROM decided AS d
WHERE e.id = d.id
RETURNING e.id, d.reason;

-- name: backlog
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8 AS oldest_pending_age
FROM webhook_deliveries AS d
JOIN webhook_endpoints AS e ON e.id = d.endpoint_id AND e.enabled
WHERE d.state = 'pending';

-- name: delete_expired
-- Kept events past retention with nothing waiting on them, with their deliveries, in slices.
DELETE FROM webhook_messages
WHERE event_id IN (
    SELECT m.event_id FROM webhook_messages AS m
    WHERE m.created_at < now() - make_interval(secs => $1)
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries AS d WHERE d.event_id = m.event_id AND d.state = 'pending'
      )
    ORDER BY m.created_at
    LIMIT $2
);
