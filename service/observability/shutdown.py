"""Graceful stop: on SIGTERM fail readiness at once, keep serving while load balancers notice, then stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


class Drain:
    """Whether this process was asked to stop; readiness fails from that moment on."""

    def __init__(self) -> None:
        self.started_at: float | None = None

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def begin(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()


@contextmanager
def drain_on_sigterm(drain: Drain, delay: float) -> Iterator[None]:
    """Put a drain period in front of the server's own SIGTERM handling.

    The server's handler stops accepting connections, waits for in-flight requests (bounded by its
    graceful timeout) and runs the lifespan shutdown. Endpoints are removed from a Kubernetes Service
    asynchronously, so new requests keep arriving for a moment after SIGTERM: this handler fails
    readiness first and hands the signal to the server only `delay` seconds later. A second SIGTERM
    skips the rest of the wait.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    loop = asyncio.get_running_loop()

    def hand_over(signum: int) -> None:
        previous(signum, None)

    def announce(signum: int) -> None:
        log.info(
            "SIGTERM received: readiness fails now, the server stops accepting after the drain",
            extra={"drain_seconds": delay},
        )
        loop.call_later(delay, hand_over, signum)

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        if drain.active:
            return previous(signum, frame)
        drain.begin()
        # A signal handler must not log or touch the loop's internals; the loop does both.
        loop.call_soon_threadsafe(announce, signum)
        return None

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)
