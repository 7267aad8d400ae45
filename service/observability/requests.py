"""The outermost layer of the app: a request id in and out, and one metrics sample per response."""

from __future__ import annotations

import re
import time
import uuid

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.logs import request_id
from service.observability.metrics import IN_FLIGHT, observe_request

HEADER = "X-Request-ID"
# A caller's id is kept only when it is short and harmless to echo into headers and logs.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _ACCEPTABLE_ID.fullmatch(text) else None
    return None


class RequestContext:
    """Wraps the whole app, so unmatched routes and error responses are covered too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        scope["state"]["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = rid
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            observe_request(scope["method"], scope.get("path_template"), status, elapsed)
            request_id.reset(token)
