"""Connected accounts: request and response shapes, rules, SQL, use cases and routes."""
