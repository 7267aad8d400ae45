-- Identity: rotating refresh tokens, login throttling, and limits on what organizations and clients hold.

-- Only a SHA-256 of each refresh token is stored. Every rotation spends one token and issues the next
-- in the same family; presenting a spent token again revokes the whole family (it was stolen or leaked).
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    spent_at    timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Failed logins per username and per address in a fixed window; keys are SHA-256 digests so the
-- table never holds what people typed into the username field.
CREATE TABLE login_failures (
    scope        text NOT NULL CHECK (scope IN ('username', 'address')),
    key          bytea NOT NULL,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX login_failures_window_idx ON login_failures (window_start);

ALTER TABLE clients
    ADD CONSTRAINT clients_name_length CHECK (length(name) BETWEEN 1 AND 255),
    ADD CONSTRAINT clients_website_length CHECK (website IS NULL OR length(website) <= 2048);
