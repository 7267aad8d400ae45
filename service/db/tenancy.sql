-- Tenancy checks shared by every resource that names a client.

-- name: client_in_organization
SELECT EXISTS (SELECT 1 FROM clients WHERE id = $1 AND organization_id = $2);
