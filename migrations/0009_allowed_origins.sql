-- Browser origins (`scheme://host[:port]`) each organization lets call the API with CORS: the embedded
-- inbox runs on the organization's own domain. Validated and normalised by the API; bounded here too.
ALTER TABLE organizations
    ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT organizations_allowed_origins_count CHECK (cardinality(allowed_origins) <= 50);
