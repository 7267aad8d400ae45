-- name: revoke
-- Records (or extends) a revocation and tells every API process in the same statement; NOTIFY is
-- delivered when the transaction commits.
WITH saved AS (
    INSERT INTO token_revocations AS r (kind, value, revoked_at, expires_at)
    VALUES ($1, $2, now(), now() + make_interval(secs => $3))
    ON CONFLICT (kind, value) DO UPDATE
    SET revoked_at = greatest(r.revoked_at, EXCLUDED.revoked_at),
        expires_at = greatest(r.expires_at, EXCLUDED.expires_at)
    RETURNING kind, value, extract(epoch FROM revoked_at)::float8 AS revoked_at,
              extract(epoch FROM expires_at)::float8 AS expires_at
)
SELECT kind, value, revoked_at, expires_at,
       pg_notify($4, json_build_object('kind', kind, 'value', value, 'revoked_at', revoked_at,
                                       'expires_at', expires_at)::text)::text AS notified
FROM saved;

-- name: active_revocations
SELECT kind, value, extract(epoch FROM revoked_at)::float8 AS revoked_at,
       extract(epoch FROM expires_at)::float8 AS expires_at
FROM token_revocations
WHERE expires_at > now();

-- name: purge_revocations
DELETE FROM token_revocations
WHERE ctid = ANY (ARRAY(SELECT ctid FROM token_revocations WHERE expires_at <= now() LIMIT 100
                        FOR UPDATE SKIP LOCKED));

-- name: delete_user
DELETE FROM users WHERE id = $1 RETURNING id, organization_id, role;

-- name: set_user_role
UPDATE users u SET role = $2
FROM (SELECT id, role FROM users WHERE id = $1 FOR UPDATE) previous
WHERE u.id = previous.id
RETURNING u.id, u.organization_id, previous.role AS previous_role, u.role;

-- name: revoke_user_refresh_tokens
UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL;
