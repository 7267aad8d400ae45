"""Which accounts of one partition a fleet member owns, and what the application is told as they change.

Pure bookkeeping, no Kafka: the assignment client feeds it the partition's records in offset order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from service.events.consumer import AccountEvent
from service.events.schema import AccountChange

ReleaseReason = Literal["revoked", "removed", "paused", "disconnected", "filtered"]
# Accounts in these states wait for their owner (paused) or for new credentials (disconnected).
IDLE_STATUSES: frozenset[str] = frozenset({"paused", "disconnected"})
_INTEGRATION_IRI = "/api/integrations/"


@dataclass(frozen=True, slots=True)
class Assigned:
    account: AccountChange


@dataclass(frozen=True, slots=True)
class Updated:
    account: AccountChange
    changes: list[str]


@dataclass(frozen=True, slots=True)
class Released:
    account_id: str
    reason: ReleaseReason


Change = Assigned | Updated | Released


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """The accounts a pool takes: of these integrations (slugs) and providers; empty means any."""

    integrations: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, integrations: Iterable[str] = (), providers: Iterable[str] = ()) -> AccountFilter:
        return cls(frozenset(_slug(name) for name in integrations), frozenset(providers))

    def accepts(self, account: AccountChange) -> bool:
        return (not self.integrations or _slug(account.integration) in self.integrations) and (
            not self.providers or account.provider in self.providers
        )

    def why_not(self, account: AccountChange) -> ReleaseReason | None:
        """None when the account is to be polled by this pool, else why not."""
        if not self.accepts(account):
            return "filtered"
        if account.status == "paused":
            return "paused"
        if account.status == "disconnected":
            return "disconnected"
        return None


# Fields every change bumps; they say nothing about what changed.
_BOOKKEEPING = frozenset({"version", "updatedAt", "changes"})
_FIELDS = [
    (index, name)
    for index, name in enumerate(AccountChange.__struct_encode_fields__)
    if name not in _BOOKKEEPING
]


def changed_fields(before: AccountChange | None, after: AccountChange) -> list[str]:
    """The JSON names of the fields that differ: the state topic's snapshots carry no `changes`.

    Credentials are never in a snapshot, and a change that alters nothing is not written, so a new
    version with no visible difference is a credential replacement.
    """
    if before is None:
        return []
    old, new = msgspec.structs.astuple(before), msgspec.structs.astuple(after)
    return [name for index, name in _FIELDS if old[index] != new[index]] or ["credentials"]


def _slug(reference: str) -> str:
    return reference.removeprefix(_INTEGRATION_IRI)


@dataclass
class Share:
    """One partition's accounts: the last version applied of each, the snapshot of those the pool takes."""

    accept: AccountFilter
    # The next offset to read: where to resume if the partition comes back to this member.
    position: int = 0
    rebuilding: bool = True
    versions: dict[str, int] = field(default_factory=dict)
    # Live accounts of the pool's integrations, pollable or not (the others are not kept).
    accounts: dict[str, AccountChange] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)

    def apply(self, event: AccountEvent) -> Change | None:
        """Take one record into account; return what the application must be told, if anything."""
        account = None if event.removed else event.account
        return self.take(event.account_id, event.version, event.offset, account)

    def fresh(self, account_id: str, version: int) -> bool:
        """Whether a record of this version is still to be applied (read before decoding its value)."""
        last = self.versions.get(account_id)
        return last is None or version > last

    def take(
        self, account_id: str, version: int, offset: int, account: AccountChange | None
    ) -> Change | None:
        """`apply` from a record's parts: the account as of `version`, None once removed."""
        self.position = max(self.position, offset + 1)
        if not self.fresh(account_id, version):
            return None
        self.versions[account_id] = version
        if account is None:
            self.accounts.pop(account_id, None)
            return self._drop(account_id, "removed")
        if not self.accept.accepts(account):
            self.accounts.pop(account_id, None)
            return self._drop(account_id, "filtered")
        previous = self.accounts.get(account_id)
        self.accounts[account_id] = account
        if self.rebuilding:
            return None
        reason = self.accept.why_not(account)
        if reason is not None:
            return self._drop(account_id, reason)
        if account_id in self.owned:
            return Updated(account, account.changes or changed_fields(previous, account))
        self.owned.add(account_id)
        return Assigned(account)

    def _drop(self, account_id: str, reason: ReleaseReason) -> Released | None:
        if account_id not in self.owned:
            return None
        self.owned.discard(account_id)
        return Released(account_id, reason)

    def take_over(self) -> list[Assigned]:
        """End of the rebuild (or the partition is back): own every pollable account."""
        self.rebuilding = False
        taken = [a for a in self.accounts.values() if self.accept.why_not(a) is None]
        self.owned = {account.id for account in taken}
        return [Assigned(account) for account in taken]

    def give_up(self) -> list[Released]:
        """The partition is no longer ours: release every account owned."""
        released = [Released(account_id, "revoked") for account_id in sorted(self.owned)]
        self.owned.clear()
        return released
