-- Every query on accounts is scoped here, in SQL: $2 organization (NULL only for platform workers)
-- and $3 client (set for customer tokens). Deleted accounts (tombstones) are never visible.

-- The account's read shape: every column but the sealed credentials and the tombstone mark.
-- fragment: account_columns
id, organization_id, client_id, integration, provider, type, name, headline, avatar, external_id, status,
status_reason, settings, metadata, version, created_at, updated_at

-- name: get_account
SELECT {{account_columns}}
FROM accounts a
WHERE a.id = $1
  AND a.deleted_at IS NULL
  AND ($2::uuid IS NULL OR a.organization_id = $2)
  AND ($3::uuid IS NULL OR a.client_id = $3);

-- name: lock_account
SELECT {{account_columns}}
FROM accounts a
WHERE a.id = $1
  AND a.deleted_at IS NULL
  AND ($2::uuid IS NULL OR a.organization_id = $2)
  AND ($3::uuid IS NULL OR a.client_id = $3)
FOR UPDATE;

-- name: get_credentials
SELECT a.credentials, a.credentials_key_id
FROM accounts a
WHERE a.id = $1
  AND a.deleted_at IS NULL
  AND ($2::uuid IS NULL OR a.organization_id = $2);

-- name: insert_account
-- The account and its account.connected event, only if client $3 is one of organization $2 (no row
-- otherwise). $16 event id, $17 the event's payload without what the database assigns (version,
-- createdAt, updatedAt), $18 the relay's channel.
WITH inserted AS (
    INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name, headline, avatar,
                          external_id, status, settings, metadata, credentials, credentials_key_id)
    SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text,
           $10::text, $11::text, $12::jsonb, $13::jsonb, $14::bytea, $15::text
    WHERE EXISTS (SELECT 1 FROM clients c WHERE c.id = $3 AND c.organization_id = $2)
    RETURNING {{account_columns}}
)
SELECT inserted.*,
       record_event($16, 'account.connected', id, organization_id, client_id, version,
                    $17::jsonb || jsonb_build_object('version', version, 'createdAt', api_timestamp(created_at),
                                                     'updatedAt', api_timestamp(updated_at)),
                    $18)
FROM inserted;

-- name: update_account
-- The change and its account.updated event, applied only if the account is still at version $2 (the
-- one the change was computed from): a stale version changes nothing and returns no row.
-- $13 event id, $14 the event's payload without version and updatedAt, $15 the relay's channel.
WITH updated AS (
    UPDATE accounts
    SET name = $3, headline = $4, avatar = $5, external_id = $6, settings = $7, metadata = $8,
        credentials = COALESCE($9, credentials), credentials_key_id = COALESCE($10, credentials_key_id),
        status = $11, status_reason = $12, version = version + 1, updated_at = now()
    WHERE id = $1 AND version = $2 AND deleted_at IS NULL
    RETURNING {{account_columns}}
)
SELECT updated.*,
       record_event($13, 'account.updated', id, organization_id, client_id, version,
                    $14::jsonb || jsonb_build_object('version', version, 'updatedAt', api_timestamp(updated_at)),
                    $15)
FROM updated;

-- name: delete_account
-- The row stays as a tombstone for audit; its credentials are destroyed in the same statement, which
-- also records the account.removed event. Guarded by version $2 like update_account.
-- $3 event id, $4 the event's payload without version and updatedAt, $5 the relay's channel.
WITH removed AS (
    UPDATE accounts
    SET deleted_at = now(), credentials = NULL, credentials_key_id = NULL, version = version + 1,
        updated_at = now()
    WHERE id = $1 AND version = $2 AND deleted_at IS NULL
    RETURNING {{account_columns}}
)
SELECT removed.*,
       record_event($3, 'account.removed', id, organization_id, client_id, version,
                    $4::jsonb || jsonb_build_object('version', version, 'updatedAt', api_timestamp(updated_at)),
                    $5)
FROM removed;

-- The collection, one query per ordering so each walks its own index in order. Parameters:
-- $1 organization, $2 customer's client, $3 client filter (uuid[]), $4 integrations, $5 providers,
-- $6 statuses (text[]), $7 ILIKE pattern on name, $8/$9 keyset after which to start (NULL: from the
-- beginning), $10 offset (0 in cursor mode), $11 limit. A NULL filter does not filter.

-- fragment: listing_filters
a.deleted_at IS NULL
  AND ($1::uuid IS NULL OR a.organization_id = $1)
  AND ($2::uuid IS NULL OR a.client_id = $2)
  AND ($3::uuid[] IS NULL OR a.client_id = ANY ($3))
  AND ($4::text[] IS NULL OR a.integration = ANY ($4))
  AND ($5::text[] IS NULL OR a.provider = ANY ($5))
  AND ($6::text[] IS NULL OR a.status = ANY ($6))
  AND ($7::text IS NULL OR a.name ILIKE $7)

-- fragment: listing_page
SELECT {{account_columns}} FROM accounts a WHERE {{listing_filters}}

-- name: list_created_asc
{{listing_page}}
  AND ($8::timestamptz IS NULL OR (a.created_at, a.id) > ($8, $9::uuid))
ORDER BY a.created_at, a.id
OFFSET $10 LIMIT $11;

-- name: list_created_desc
{{listing_page}}
  AND ($8::timestamptz IS NULL OR (a.created_at, a.id) < ($8, $9::uuid))
ORDER BY a.created_at DESC, a.id DESC
OFFSET $10 LIMIT $11;

-- name: list_name_asc
{{listing_page}}
  AND ($8::text IS NULL OR (a.name, a.id) > ($8, $9::uuid))
ORDER BY a.name, a.id
OFFSET $10 LIMIT $11;

-- name: list_name_desc
{{listing_page}}
  AND ($8::text IS NULL OR (a.name, a.id) < ($8, $9::uuid))
ORDER BY a.name DESC, a.id DESC
OFFSET $10 LIMIT $11;

-- name: count_accounts_from_counters
-- totalItems without a name filter: the sum of the matching counters (migration 0005), as exact as a
-- count(*) and as cheap at any number of accounts. Parameters $1-$6 as above.
SELECT COALESCE(sum(c.count), 0)::bigint
FROM account_counts c
WHERE ($1::uuid IS NULL OR c.organization_id = $1)
  AND ($2::uuid IS NULL OR c.client_id = $2)
  AND ($3::uuid[] IS NULL OR c.client_id = ANY ($3))
  AND ($4::text[] IS NULL OR c.integration = ANY ($4))
  AND ($5::text[] IS NULL OR c.provider = ANY ($5))
  AND ($6::text[] IS NULL OR c.status = ANY ($6));

-- name: count_accounts
-- totalItems with a name filter, which no counter holds: the matching accounts, counted.
SELECT count(*)
FROM accounts a
WHERE {{listing_filters}};

-- Idempotency keys of POST /api/accounts, per organization and caller scope.

-- name: try_lock_idempotency_key
-- Held until the creating transaction ends, so a concurrent duplicate is told 409 instead of waiting.
SELECT pg_try_advisory_xact_lock($1::int, $2::int);

-- name: find_idempotency_key
SELECT request_hash, response_status, account_id, snapshot
FROM idempotency_keys
WHERE organization_id = $1 AND key = $2 AND scope = $3 AND expires_at > now();

-- name: save_idempotency_key
INSERT INTO idempotency_keys (organization_id, key, request_hash, account_id, response_status, snapshot,
                              expires_at, scope)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8)
ON CONFLICT (organization_id, scope, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, account_id = EXCLUDED.account_id,
    response_status = EXCLUDED.response_status, snapshot = EXCLUDED.snapshot,
    created_at = now(), expires_at = EXCLUDED.expires_at
WHERE idempotency_keys.expires_at <= now();

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys
WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT 100
                        FOR UPDATE SKIP LOCKED));
