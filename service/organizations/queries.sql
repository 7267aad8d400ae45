-- Every query names the caller's organization: another organization does not exist here.

-- name: get_organization
SELECT id, name, allowed_origins, created_at FROM organizations
WHERE id = $1 AND id = $2;

-- name: update_allowed_origins
UPDATE organizations SET allowed_origins = $3
WHERE id = $1 AND id = $2
RETURNING id, name, allowed_origins, created_at;

-- name: all_allowed_origins
SELECT id, allowed_origins FROM organizations
WHERE cardinality(allowed_origins) > 0;
