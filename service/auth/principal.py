"""The authenticated caller, as every use case sees it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from uuid import UUID


class Credential(enum.StrEnum):
    """How the caller proved who it is; `request.auth` holds one of these."""

    BEARER = "bearer"
    API_KEY = "api_key"


class Role(enum.StrEnum):
    OWNER = "ROLE_OWNER"
    VIEWER = "ROLE_VIEWER"
    CUSTOMER = "ROLE_CUSTOMER"
    WORKER = "ROLE_WORKER"


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: its organization (None only for platform workers) and, for customers, its one client."""

    subject: str
    roles: frozenset[Role]
    organization_id: UUID | None
    client_id: UUID | None = None
    # The `jti` of the access token it came with (None for API keys), for the audit trail; not identity.
    jti: str | None = field(default=None, compare=False)

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_worker(self) -> bool:
        return Role.WORKER in self.roles
