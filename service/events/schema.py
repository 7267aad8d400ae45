"""The value of an account event: the account's plain-JSON read shape, as consumers decode it."""

from __future__ import annotations

from typing import Any

import msgspec


# Untracked by the cycle collector (`gc=False`): decoded JSON holds no cycles, and a member keeps one per
# owned account, which every full collection would otherwise walk.
class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """An account as the REST API shows it in plain JSON (same fields, same order), never credentials.

    New fields are added with defaults and unknown ones are ignored, so producers and consumers of
    different versions keep understanding each other.
    """

    id: str
    name: str
    headline: str | None = None
    avatar: str | None = None
    provider: str
    type: str
    integration: str
    external_id: str | None = None
    client: str
    status: str
    status_reason: str | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    version: int
    created_at: str
    updated_at: str | None = None


class AccountChange(AccountSnapshot, frozen=True, kw_only=True, rename="camel", gc=False):
    """The value on the history topic: the snapshot, plus the changed field names of an update."""

    changes: list[str] = msgspec.field(default_factory=list)
