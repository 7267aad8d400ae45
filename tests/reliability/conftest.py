"""Fixtures for fault tests: a broker of the test's own, so stopping or killing it disturbs no other test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.kafka import LocalKafka


@pytest.fixture
async def own_kafka(tmp_path: Path) -> AsyncIterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "kafka", port=0, progress=lambda _: None)
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)
