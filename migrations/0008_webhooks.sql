-- Webhooks: endpoints of an organization, the events they may receive, and one delivery per
-- (endpoint, event). Deliveries are written by a trigger on the outbox, in the transaction of the
-- change, so a committed change always has its deliveries and a rolled-back one never does.

CREATE TABLE webhook_endpoints (
    id                          uuid PRIMARY KEY,
    organization_id             uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    description                 text,
    -- Event types, or '*' for all of them.
    event_types                 text[] NOT NULL,
    -- Clients whose accounts' events are sent; NULL: every client of the organization.
    client_ids                  uuid[],
    enabled                     boolean NOT NULL DEFAULT true,
    disabled_reason             text,
    disabled_at                 timestamptz,
    -- The signing secret sealed with the credentials key ring (AES-256-GCM, endpoint id bound).
    secret                      bytea NOT NULL,
    secret_key_id               text NOT NULL,
    -- The secret before the last rotation, still signing (second signature) until it expires.
    previous_secret             bytea,
    previous_secret_key_id      text,
    previous_secret_expires_at  timestamptz,
    -- Start of the current run of failed attempts; NULL after any success.
    failing_since               timestamptz,
    version                     integer NOT NULL DEFAULT 1,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz
);
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints (organization_id, created_at, id);

-- The events of organizations that have endpoints, kept for deliveries and replays (the outbox
-- forgets published events sooner).
CREATE TABLE webhook_messages (
    event_id        uuid PRIMARY KEY,
    position        bigint NOT NULL,
    event_type      text NOT NULL,
    account_id      uuid NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id       uuid NOT NULL,
    account_version integer NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX webhook_messages_organization_idx ON webhook_messages (organization_id, created_at);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES webhook_messages (event_id) ON DELETE CASCADE,
    account_id      uuid NOT NULL,
    -- The event's outbox position: an account's deliveries to one endpoint go out in this order.
    position        bigint NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    last_latency_ms double precision,
    -- Every attempt, newest last: {at, status, latencyMs, error}.
    history         jsonb NOT NULL DEFAULT '[]'::jsonb,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- The dispatcher's scan: each endpoint's due deliveries, oldest first; what waits for a retry (and
-- the same account's deliveries behind it) sorts after now and is never read until it is due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at, position)
    WHERE state = 'pending';
-- Order per (endpoint, account): is an earlier delivery still pending?
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (endpoint_id, account_id, position)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

-- Fan each committed outbox event out to the enabled endpoints of its organization that want it.
-- Statement level with a transition table: one join per statement, also for bulk inserts. For an
-- organization without endpoints it costs one index probe.
CREATE FUNCTION webhook_fan_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_messages (event_id, position, event_type, account_id, organization_id, client_id,
                                  account_version, payload, created_at)
    SELECT i.event_id, i.position, i.event_type, i.account_id, i.organization_id, i.client_id,
           i.account_version, i.payload, i.created_at
    FROM inserted AS i
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints AS e WHERE e.organization_id = i.organization_id);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (endpoint_id, event_id, account_id, position)
    SELECT e.id, i.event_id, i.account_id, i.position
    FROM inserted AS i
    JOIN webhook_endpoints AS e ON e.organization_id = i.organization_id
    WHERE e.enabled
      AND ('*' = ANY (e.event_types) OR i.event_type = ANY (e.event_types))
      AND (e.client_ids IS NULL OR i.client_id = ANY (e.client_ids));
    IF FOUND THEN
        PERFORM pg_notify('accounts_webhooks', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_webhook_fan_out
    AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_fan_out();
