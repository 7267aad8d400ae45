"""Response headers as ASGI carries them (a list of lower-case byte pairs), for the layers around the app.

The layers that wrap the whole app add a header or two to every answer; editing the raw list in place
costs a scan of a handful of pairs, where a mapping view rebuilds and re-encodes it for each change.
"""

from __future__ import annotations

from typing import Any

from litestar.types import Message, Scope

# For responses that carry a token or a secret: no cache (browser, proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}

RawHeaders = list[tuple[bytes, bytes]]


def request_header(scope: Scope, name: bytes) -> str | None:
    """The first request header called `name` (lower-case), as text."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def response_headers(message: Message) -> RawHeaders:
    """The start message's header list, made a list in place if a sender gave another iterable."""
    start: dict[str, Any] = message  # type: ignore[assignment]
    headers = start.get("headers")
    if not isinstance(headers, list):
        headers = start["headers"] = [(bytes(name), bytes(value)) for name, value in headers or ()]
    return headers


def find(headers: RawHeaders, name: bytes) -> int:
    """The index of the first `name` header (lower-case), or -1."""
    for index, (key, _) in enumerate(headers):
        if key == name:
            return index
    return -1


def join(headers: RawHeaders, name: bytes, value: bytes) -> None:
    """Add `value` to a list-valued header (Vary, Link): after the existing values, comma-separated."""
    index = find(headers, name)
    if index < 0:
        headers.append((name, value))
    else:
        headers[index] = (name, headers[index][1] + b", " + value)
