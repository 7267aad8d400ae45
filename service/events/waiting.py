"""Waiting for the first of a few events, or a timeout, without leaving a waiter behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def first_of(events: Iterable[asyncio.Event], within: float) -> None:
    """Return once any of `events` is set or `within` seconds passed; the other waiters are cancelled."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
