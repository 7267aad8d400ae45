"""Login throttling: failed attempts counted per username and per address in a fixed window."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import asyncpg

from service.db.sql import load_queries
from service.errors import TooManyRequests

_SQL = load_queries("service.auth", "queries.sql")


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    max_per_username: int
    max_per_address: int
    window_seconds: int

    async def attempt(self, connection: asyncpg.Connection, username: str, address: str) -> None:
        """Count an attempt before checking the password; too many in the window is a 429.

        Counting first (atomically) keeps concurrent guesses from slipping past the limit.
        """
        retry_after = 0
        for scope, key, limit in [
            ("username", await username_key(connection, username), self.max_per_username),
            ("address", _digest(address), self.max_per_address),
        ]:
            row = await connection.fetchrow(_SQL["count_login_attempt"], scope, key, self.window_seconds)
            if row["failures"] > limit:
                retry_after = max(retry_after, row["retry_after"], 1)
        if retry_after:
            minutes = math.ceil(retry_after / 60)
            raise TooManyRequests(
                f"Too many failed login attempts, please try again in {minutes} minute(s).", retry_after
            )

    async def succeeded(self, connection: asyncpg.Connection, username: str, address: str) -> None:
        """A correct password clears the username's failures and does not count against the address."""
        await connection.execute(_SQL["forget_username_failures"], await username_key(connection, username))
        await connection.execute(_SQL["uncount_address_attempt"], _digest(address))
        await connection.execute(_SQL["purge_login_failures"], self.window_seconds)


async def username_key(connection: asyncpg.Connection, username: str) -> bytes:
    """The username as the user lookup compares it (PostgreSQL's `lower`, not Python's), digested:
    spellings the lookup takes for one user share one count, and no others do."""
    if "\x00" in username:
        # PostgreSQL text cannot hold NUL, so no user has this name; the key only has to be stable.
        return b"\x00" + _digest(username)
    key: bytes = await connection.fetchval(_SQL["username_throttle_key"], username)
    return key


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
