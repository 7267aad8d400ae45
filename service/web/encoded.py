"""A response whose body is already encoded: handed to the server as it is.

Litestar's path for a `Response` renders the body again (a no-op for bytes), then builds and
re-encodes a header mapping for the low-level response; on the busiest handlers that was a tenth of
their CPU. `Encoded` keeps Litestar's path for anything it does not need to know (cookies, background
tasks, bodiless statuses) and otherwise sends the start and body messages it already has.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send


class _Sent(ASGIResponse):
    """The two ASGI messages of a complete answer, made from encoded headers."""

    __slots__ = ("raw_headers",)

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.raw_headers = raw_headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class Encoded(Response[bytes]):
    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: Any = None,
        cookies: Any = None,
        encoded_headers: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        status = self.status_code or status_code or 200
        plain = not (background or self.background or cookies or self.cookies or encoded_headers)
        if not plain or is_head_response or status < 200 or status in (204, 304):
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        merged = {**headers, **self.headers} if headers else self.headers
        body = self.content
        raw = [
            (b"content-type", str(self.media_type or media_type).encode("latin-1")),
            (b"content-length", b"%d" % len(body)),
        ]
        raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in merged.items()]
        return _Sent(status, raw, body)
