"""Response headers every answer carries, whichever layer produced it (routes, errors, unknown paths)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# For responses that carry a token or a secret: no cache (browser, proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: browsers must take every body as the type it is labelled with."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["X-Content-Type-Options"] = "nosniff"
