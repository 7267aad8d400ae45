-- name: insert_event
SELECT record_event($1, $2, $3, $4, $5, $6, $7, $8);
