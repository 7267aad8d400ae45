-- name: insert_event
-- One round trip: the row, and the NOTIFY that wakes the relay once the transaction commits.
WITH event AS (
    INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version, payload)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING position
)
SELECT pg_notify($8, '') FROM event;
