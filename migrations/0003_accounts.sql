-- Accounts API: idempotent POSTs, and the indexes behind the collection's filters, orderings and cursors.

-- Trigram index for the case-insensitive `name` substring filter (pg_trgm is a trusted extension).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The first successful response to a POST carrying an Idempotency-Key, replayed for 24 hours.
-- Rows are written only in the transaction that created the account, so a request that fails or
-- dies leaves nothing behind; a concurrent duplicate is turned away by a transaction-level lock.
CREATE TABLE idempotency_keys (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- Keyed hash of the caller's scope and request body: never the body itself (it holds credentials).
    request_hash     bytea NOT NULL,
    account_id       uuid NOT NULL,
    response_status  smallint NOT NULL,
    -- The account as the first response showed it (plain read shape, no credentials), replayed as is.
    snapshot         jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Keyset orderings of the collection: (created_at, id) exists in 0001 per organization and client;
-- these add the name ordering and the platform-wide scans of workers.
CREATE INDEX accounts_organization_name_idx
    ON accounts (organization_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_client_name_idx
    ON accounts (client_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_created_idx
    ON accounts (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_name_idx
    ON accounts (name, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_name_trgm_idx
    ON accounts USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;
