-- name: insert_event
INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: notify
SELECT pg_notify($1, '');
