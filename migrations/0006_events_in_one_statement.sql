-- A change and its event written by one statement: the account statement calls record_event() on the
-- row it returns, so a write needs no explicit transaction and one round trip to the database.

-- The event row and the NOTIFY that wakes the relay; both take effect only if the caller's
-- transaction (or single statement) commits. Call it on a row the statement has just written, and so
-- locked: that lock orders an account's changes, so its events' positions follow commit order.
CREATE FUNCTION record_event(
    p_event_id uuid,
    p_event_type text,
    p_account_id uuid,
    p_organization_id uuid,
    p_client_id uuid,
    p_account_version integer,
    p_payload jsonb,
    p_channel text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_position bigint;
BEGIN
    INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version, payload)
    VALUES (p_event_id, p_event_type, p_account_id, p_organization_id, p_client_id, p_account_version, p_payload)
    RETURNING position INTO new_position;
    PERFORM pg_notify(p_channel, '');
    RETURN new_position;
END;
$$;

-- The API's date format (RFC 3339 in UTC, whole seconds, numeric offset), for the parts of an event's
-- payload that only the database knows: the version and the row's timestamps.
CREATE FUNCTION api_timestamp(value timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"');
