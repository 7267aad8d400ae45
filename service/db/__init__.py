"""PostgreSQL access: the connection pool, named SQL queries and the migration runner."""
