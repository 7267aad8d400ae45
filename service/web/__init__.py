"""HTTP concerns shared by every resource: formats, errors, pagination, health."""
