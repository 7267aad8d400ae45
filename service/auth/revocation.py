"""The revocation list each API process keeps in memory, so checking a token costs a few dict lookups."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: Revoked
    value: str
    # Epoch seconds: tokens issued up to then are refused (all of them for a jti).
    revoked_at: float
    expires_at: float


class Revoked(enum.StrEnum):
    """What a revocation names: one token, or every token minted so far for a user, key or family."""

    JTI = "jti"
    USER = "user"
    API_KEY = "api_key"
    FAMILY = "family"


# The database stamps revocations, API hosts stamp tokens: a token minted this much after a revocation
# still counts as minted before it, so a host whose clock runs a little ahead cannot slip one through.
CLOCK_SKEW_SECONDS = 2.0

# What a token can be revoked by, besides its jti: (kind, value) pairs, fixed when it is first verified.
Handles = tuple[tuple[Revoked, str], ...]


class RevocationList:
    """Revoked jtis, and the cut-off time of every revoked user, API key and refresh family."""

    def __init__(self) -> None:
        self._jtis: set[str] = set()
        self._cutoffs: dict[tuple[Revoked, str], float] = {}

    def add(self, revocation: Revocation) -> None:
        if revocation.kind is Revoked.JTI:
            self._jtis.add(revocation.value)
            return
        key = (revocation.kind, revocation.value)
        self._cutoffs[key] = max(self._cutoffs.get(key, revocation.revoked_at), revocation.revoked_at)

    def replace(self, revocations: Iterable[Revocation]) -> None:
        """The whole list, re-read from the database (expired rows are left out there)."""
        fresh = RevocationList()
        for revocation in revocations:
            fresh.add(revocation)
        self._jtis, self._cutoffs = fresh._jtis, fresh._cutoffs

    def covers(self, jti: str, issued_at: float, handles: Handles) -> bool:
        """True when the token is revoked: its jti, or something that minted it before its cut-off."""
        if jti in self._jtis:
            return True
        for handle in handles:
            cutoff = self._cutoffs.get(handle)
            # iat has whole seconds: a token of the revocation's own second counts as issued before it.
            if cutoff is not None and issued_at <= cutoff + CLOCK_SKEW_SECONDS:
                return True
        return False

    def __len__(self) -> int:
        return len(self._jtis) + len(self._cutoffs)
