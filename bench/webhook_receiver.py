"""The benchmark's receiver: part of the harness, so as cheap per request as HTTP/1.1 allows.

A bare asyncio protocol: it finds the end of each request's headers, takes `webhook-id` and the body
length by byte search, and answers `204` (on `/fast`) or never (on `/hang`). No header dict, no
decoding, no task per connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

_END = b"\r\n\r\n"
_ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"


def _header(head: bytes, name: bytes) -> bytes | None:
    """A header's value by case-insensitive search of the lowered head (names are ASCII)."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


class LeanReceiver:
    """Notes when each `webhook-id` first arrived at `/fast`; keeps `/hang` requests open until cut."""

    def __init__(self) -> None:
        self.arrived: dict[bytes, float] = {}
        self.open_hanging = 0
        self.open_hanging_max = 0
        # Off: a `/hang` request has its connection dropped at once instead (the endpoint is "away").
        self.hanging_on = True
        self.last_hang_arrival = 0.0
        self._hanging: set[asyncio.Transport] = set()

    def protocol(self) -> _Connection:
        return _Connection(self)

    def hang(self, transport: asyncio.Transport) -> None:
        self.last_hang_arrival = time.monotonic()
        if not self.hanging_on:
            transport.close()
            return
        self._hanging.add(transport)
        self.open_hanging = len(self._hanging)
        self.open_hanging_max = max(self.open_hanging_max, self.open_hanging)

    def gone(self, transport: asyncio.Transport) -> None:
        self._hanging.discard(transport)
        self.open_hanging = len(self._hanging)

    def cut_hanging(self) -> None:
        """Close every hanging request's connection (the client sees it dropped)."""
        for transport in list(self._hanging):
            transport.close()


class _Connection(asyncio.Protocol):
    def __init__(self, receiver: LeanReceiver) -> None:
        self._receiver = receiver
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._hung = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, yet have the same methods.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._receiver.gone(self._transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while not self._hung:
            end = buffer.find(_END)
            if end < 0:
                break
            head = buffer[:end].lower()
            length = int(_header(head, b"content-length") or b"0")
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length :]
            self._answer(head)
        self._buffer = buffer

    def _answer(self, head: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if head.startswith(b"post /hang"):
            self._hung = True
            self._receiver.hang(transport)
            return
        event_id = _header(head, b"webhook-id")
        if event_id is not None:
            self._receiver.arrived.setdefault(event_id, time.time())
        transport.write(_ANSWER)
