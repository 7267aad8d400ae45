"""The catalog of messaging integrations an account can connect to."""
