-- Organizations own users, API keys and clients; clients own accounts.

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username        text NOT NULL CHECK (length(username) BETWEEN 1 AND 180),
    password_hash   text NOT NULL,
    role            text NOT NULL CHECK (role IN ('ROLE_OWNER', 'ROLE_VIEWER')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- Usernames log in without naming an organization, so they are unique across all of them.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_organization_idx ON users (organization_id);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key_hash        bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);

CREATE TABLE clients (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    website         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz
);
CREATE INDEX clients_organization_created_idx ON clients (organization_id, created_at, id);

CREATE TABLE accounts (
    id                  uuid PRIMARY KEY,
    organization_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id           uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    integration         text NOT NULL,
    provider            text NOT NULL,
    type                text NOT NULL,
    name                text NOT NULL,
    headline            text,
    avatar              text,
    external_id         text,
    status              text NOT NULL DEFAULT 'connecting'
        CHECK (status IN ('connecting', 'connected', 'disconnected', 'error', 'paused')),
    status_reason       text,
    settings            jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- AES-256-GCM ciphertext bound to the account id; NULL once the account is deleted.
    credentials         bytea,
    credentials_key_id  text,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz,
    -- Deleted accounts stay as tombstones for audit, without credentials.
    deleted_at          timestamptz
);
CREATE UNIQUE INDEX accounts_external_id_key
    ON accounts (client_id, integration, external_id)
    WHERE deleted_at IS NULL AND external_id IS NOT NULL;
CREATE INDEX accounts_organization_created_idx
    ON accounts (organization_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX accounts_client_created_idx
    ON accounts (client_id, created_at, id) WHERE deleted_at IS NULL;

-- One row per committed account change, written in the same transaction; the relay publishes it.
CREATE TABLE outbox (
    position        bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL,
    account_id      uuid NOT NULL,
    organization_id uuid NOT NULL,
    client_id       uuid NOT NULL,
    account_version integer NOT NULL,
    payload         jsonb NOT NULL,
    -- The writing transaction: lets the relay read only rows no running transaction can precede.
    txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    parked_at       timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (position) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
