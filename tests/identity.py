"""Two organizations with clients, users and API keys, inserted straight into a test database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from service.auth.api_keys import hash_api_key, new_api_key
from service.auth.principal import Principal, Role

PASSWORD = "correct horse battery staple"
WORKER = Principal(subject="worker", roles=frozenset({Role.WORKER}), organization_id=None)


@dataclass(frozen=True)
class Tenant:
    """One organization: two clients, an owner and a viewer (password PASSWORD), one live API key."""

    name: str
    organization_id: uuid.UUID
    client_ids: tuple[uuid.UUID, uuid.UUID]
    owner_id: uuid.UUID
    viewer_id: uuid.UUID
    owner_username: str
    viewer_username: str
    api_key: str
    api_key_id: uuid.UUID

    @property
    def owner(self) -> Principal:
        return Principal(str(self.owner_id), frozenset({Role.OWNER}), self.organization_id)

    @property
    def viewer(self) -> Principal:
        return Principal(str(self.viewer_id), frozenset({Role.VIEWER}), self.organization_id)

    @property
    def customer(self) -> Principal:
        """A customer of the first client."""
        return self.customer_of(0)

    def customer_of(self, index: int) -> Principal:
        return Principal(
            f"customer-{index}", frozenset({Role.CUSTOMER}), self.organization_id, self.client_ids[index]
        )


@dataclass(frozen=True)
class Tenants:
    a: Tenant
    b: Tenant
    password: str = PASSWORD


async def insert_tenant(db: asyncpg.Connection, name: str, password_hash: str) -> Tenant:
    organization_id, owner_id, viewer_id, key_id = (uuid.uuid4() for _ in range(4))
    client_ids = (uuid.uuid4(), uuid.uuid4())
    api_key = new_api_key()
    async with db.transaction():
        await db.execute("INSERT INTO organizations (id, name) VALUES ($1, $2)", organization_id, name)
        for index, client_id in enumerate(client_ids):
            await db.execute(
                "INSERT INTO clients (id, organization_id, name, website, created_at)"
                " VALUES ($1, $2, $3, $4, now() - make_interval(secs => 10 - $5))",
                client_id,
                organization_id,
                f"{name} client {index}",
                f"https://client{index}.{name}.example",
                index,
            )
        for user_id, username, role in [
            (owner_id, f"{name}-owner", Role.OWNER),
            (viewer_id, f"{name}-viewer", Role.VIEWER),
        ]:
            await db.execute(
                "INSERT INTO users (id, organization_id, username, password_hash, role)"
                " VALUES ($1, $2, $3, $4, $5)",
                user_id,
                organization_id,
                username,
                password_hash,
                role.value,
            )
        await db.execute(
            "INSERT INTO api_keys (id, organization_id, key_hash) VALUES ($1, $2, $3)",
            key_id,
            organization_id,
            hash_api_key(api_key),
        )
    return Tenant(
        name=name,
        organization_id=organization_id,
        client_ids=client_ids,
        owner_id=owner_id,
        viewer_id=viewer_id,
        owner_username=f"{name}-owner",
        viewer_username=f"{name}-viewer",
        api_key=api_key,
        api_key_id=key_id,
    )
