"""Clients: the tenants of an organization, each owning its connected accounts."""
