-- Every query names the organization: a client of another organization does not exist here.

-- name: count_clients
SELECT count(*) FROM clients
WHERE organization_id = $1 AND ($2::text IS NULL OR name ILIKE $2 ESCAPE '\');

-- name: page_clients
SELECT id, name, website, created_at, updated_at FROM clients
WHERE organization_id = $1 AND ($2::text IS NULL OR name ILIKE $2 ESCAPE '\')
ORDER BY created_at, id
LIMIT $3 OFFSET $4;

-- name: get_client
SELECT id, name, website, created_at, updated_at FROM clients
WHERE id = $1 AND organization_id = $2;

-- name: lock_client
SELECT id, name, website, created_at, updated_at FROM clients
WHERE id = $1 AND organization_id = $2
FOR UPDATE;

-- name: insert_client
INSERT INTO clients (id, organization_id, name, website) VALUES ($1, $2, $3, $4)
RETURNING id, name, website, created_at, updated_at;

-- name: update_client
UPDATE clients SET name = $3, website = $4, updated_at = now()
WHERE id = $1 AND organization_id = $2
RETURNING id, name, website, created_at, updated_at;

-- name: client_has_live_accounts
SELECT EXISTS (SELECT 1 FROM accounts WHERE client_id = $1 AND deleted_at IS NULL);

-- name: delete_client
DELETE FROM clients WHERE id = $1 AND organization_id = $2;
