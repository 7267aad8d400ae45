"""Argon2id password hashes, with the same cost for known and unknown usernames."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from service.settings import Settings


class Passwords:
    """Hashes and checks passwords off the event loop (Argon2 is deliberately slow)."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        # Checked when the username is unknown, so both failures cost one Argon2 verification.
        self._decoy = self._hasher.hash("decoy password that matches nothing")
        # Each hash holds memory_cost KiB: a burst of logins queues here instead of exhausting memory.
        self._slots = asyncio.Semaphore(os.cpu_count() or 2)

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism)

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing hash is checked against the decoy and fails."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False
