-- name: api_key_owner
SELECT id, organization_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL;

-- name: insert_organization
INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING id, name, created_at;

-- name: insert_api_key
INSERT INTO api_keys (id, organization_id, key_hash) VALUES ($1, $2, $3) RETURNING id, created_at;

-- name: list_api_keys
SELECT id, created_at, revoked_at FROM api_keys WHERE organization_id = $1 ORDER BY created_at, id;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1
RETURNING id, organization_id, revoked_at;

-- name: organization_exists
SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1);

-- name: insert_user
INSERT INTO users (id, organization_id, username, password_hash, role)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: user_by_username
SELECT id, organization_id, password_hash, role FROM users WHERE lower(username) = lower($1);

-- name: username_throttle_key
-- The login throttle's key of a username: normalised exactly as user_by_username compares it.
SELECT sha256(convert_to(lower($1), 'UTF8'));

-- name: update_password_hash
UPDATE users SET password_hash = $2 WHERE id = $1;

-- name: count_login_attempt
-- Counts this attempt in the current window (a window that has run out starts again) and says how
-- many attempts the window holds and how long it still runs.
INSERT INTO login_failures AS f (scope, key, failures, window_start)
VALUES ($1, $2, 1, now())
ON CONFLICT (scope, key) DO UPDATE SET
    failures = CASE WHEN f.window_start > now() - make_interval(secs => $3) THEN f.failures + 1 ELSE 1 END,
    window_start = CASE WHEN f.window_start > now() - make_interval(secs => $3) THEN f.window_start ELSE now() END
RETURNING failures,
    ceil(extract(epoch FROM f.window_start + make_interval(secs => $3) - now()))::integer AS retry_after;

-- name: forget_username_failures
DELETE FROM login_failures WHERE scope = 'username' AND key = $1;

-- name: uncount_address_attempt
UPDATE login_failures SET failures = greatest(failures - 1, 0) WHERE scope = 'address' AND key = $1;

-- name: purge_login_failures
DELETE FROM login_failures WHERE window_start < now() - make_interval(secs => $1);

-- name: insert_refresh_token
INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: lock_refresh_token
SELECT r.id, r.family_id, r.user_id, r.spent_at, r.revoked_at, r.expires_at <= now() AS expired,
       u.organization_id, u.role
FROM refresh_tokens r JOIN users u ON u.id = r.user_id
WHERE r.token_hash = $1
FOR UPDATE OF r;

-- name: spend_refresh_token
UPDATE refresh_tokens SET spent_at = now() WHERE id = $1;

-- name: revoke_refresh_family
UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL;

-- name: purge_refresh_tokens
DELETE FROM refresh_tokens WHERE user_id = $1 AND expires_at < now();
