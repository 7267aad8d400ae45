"""Organizations as a resource: what an owner may read and change about its own organization."""
