"""The outermost layer of the app: a request id in and out, one metrics sample and one access line per
response."""

from __future__ import annotations

import itertools
import os
import re
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.access import AccessLog
from service.observability.logs import request_id
from service.observability.metrics import IN_FLIGHT, observe_request

HEADER = "X-Request-ID"
_HEADER = HEADER.lower().encode()
# A caller's id is kept only when it is short and harmless to echo into headers and logs.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Ids made here (32 hex digits, as a UUID's): random per process, then counted, so they are unique
# without a system call each.
_PREFIX = os.urandom(8).hex()
_NUMBERS = itertools.count(1)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _ACCEPTABLE_ID.fullmatch(text) else None
    return None


def new_request_id() -> str:
    return f"{_PREFIX}{next(_NUMBERS):016x}"


class RequestContext:
    """Wraps the whole app, so unmatched routes and error responses are covered too."""

    def __init__(self, app: ASGIApp, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.access_log = access_log or AccessLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or new_request_id()
        token = request_id.set(rid)
        scope["state"]["request_id"] = rid
        echoed = (_HEADER, rid.encode("latin-1"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if isinstance(headers, list):
                    headers.append(echoed)
                else:
                    message["headers"] = [*(headers or ()), echoed]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            observe_request(scope["method"], scope.get("path_template"), status, elapsed)
            self.access_log.record(scope, status, elapsed)
            request_id.reset(token)
