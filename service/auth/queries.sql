-- name: api_key_owner
SELECT id, organization_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL;
