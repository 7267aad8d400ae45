"""The HTTP/1.1 edge of the API: uvicorn's httptools protocol, with the limits uvicorn lacks.

uvicorn's httptools protocol buffers a request head of any size and waits for it for ever; its h11
protocol caps the head but also never times it out. This one refuses a head over `max_header_bytes`
with 431 before reading more of it, and closes a connection whose head is not complete within
`header_timeout` seconds of the connection opening or of the head's first byte (slow clients).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import pathlib
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from service.settings import Settings

logger = logging.getLogger("uvicorn.error")

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0


class _HeadTooLarge(httptools.HttpParserError):
    """Raised from a parser callback to stop parsing a head that went over the limit."""


class EdgeProtocol(HttpToolsProtocol):
    """One connection; counts the bytes of each request head and times the head's arrival."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: EdgeLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or EdgeLimits()
        self._in_head = True  # what arrives next belongs to a request head
        self._head_received = 0  # bytes read while in the head: an upper bound of its size
        self._head_parsed = 0  # its request line and header fields as parsed
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_received += len(data)
        try:
            self.parser.feed_data(data)
        except _HeadTooLarge:
            self._refuse(431)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._head_parsed > self.limits.max_header_bytes:
                self._refuse(431)
                return
            logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._head_received > self.limits.max_header_bytes:
            self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_parsed = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_received = 0

    def _count(self, size: int) -> None:
        self._head_parsed += size
        if self._head_parsed > self.limits.max_header_bytes:
            raise _HeadTooLarge("request head too large")

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head is late while an earlier response is still being sent: finish that one.
            self.cycle.keep_alive = False
            return
        self._refuse(408)

    def _refuse(self, status: int) -> None:
        """A bare error response and the end of the connection; the app never sees the request."""
        self._disarm_head_timer()
        reason = _REASONS[status]
        logger.warning("Refused a request from %s: %s", _peer(self.client), reason.decode())
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier response is still being written: an answer now would land inside it.
            self.transport.close()
            return
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(reason), reason)
        )
        self.transport.close()


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown"


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the API: the protocol above, keep-alive, and whose proxy headers count."""
    limits = EdgeLimits(settings.http_max_header_bytes, settings.http_header_timeout)
    return {
        # A partial, not a class made on the fly: worker processes receive it pickled.
        "http": functools.partial(EdgeProtocol, limits=limits),
        "timeout_keep_alive": settings.http_keep_alive_timeout,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        # X-Forwarded-For/-Proto are believed only from these addresses; empty believes nobody.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
        # The app's request layer writes the access log (service.observability.access).
        "access_log": False,
    }


def usable_cpus() -> int:
    """The CPUs this process may run on, fewer when a cgroup (v2) quota caps it below them."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = pathlib.Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def worker_count(settings: Settings) -> int:
    """WEB_CONCURRENCY, or one worker per usable CPU when it is 0 (the default)."""
    return settings.web_concurrency or usable_cpus()
