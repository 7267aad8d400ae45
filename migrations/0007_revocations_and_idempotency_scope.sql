-- Token revocation, and Idempotency-Keys scoped per caller instead of per organization.

-- Revoked access tokens, by `jti`, or by what minted them: a user, an API key, a refresh family. For the
-- last three every token issued up to `revoked_at` is refused. A row is needed only as long as a token
-- it covers could still be valid, so it expires with them. Every API process keeps the live rows in
-- memory, told of new ones by NOTIFY.
CREATE TABLE token_revocations (
    kind        text NOT NULL CHECK (kind IN ('jti', 'user', 'api_key', 'family')),
    value       text NOT NULL CHECK (length(value) BETWEEN 1 AND 255),
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX token_revocations_expires_idx ON token_revocations (expires_at);

-- Whose key it is: 'organization' for owners and API keys, 'client:<id>' for a client's customer
-- tokens (Stripe's model), so a customer can neither block nor probe another caller's keys.
ALTER TABLE idempotency_keys ADD COLUMN scope text NOT NULL DEFAULT 'organization';
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (organization_id, scope, key);
