"""Is the Kafka cluster reachable? A bounded metadata round trip, for readiness checks."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaClient


class KafkaProbe:
    """Asks the cluster for metadata at most once per `ttl` seconds and remembers the answer."""

    def __init__(self, bootstrap_servers: str, timeout: float, ttl: float = 5.0) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout = timeout
        self._ttl = ttl
        self._checked_at = -float("inf")
        self._reachable = False
        self._lock = asyncio.Lock()

    async def reachable(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl:
                self._reachable = await self._ask()
                self._checked_at = time.monotonic()
            return self._reachable

    async def _ask(self) -> bool:
        client = AIOKafkaClient(
            bootstrap_servers=self._bootstrap_servers,
            request_timeout_ms=int(self._timeout * 1000),
        )
        try:
            await asyncio.wait_for(client.bootstrap(), self._timeout)
            return True
        except Exception:
            # Any failure to get metadata means "not reachable"; the reason is not the probe's business.
            return False
        finally:
            await client.close()
