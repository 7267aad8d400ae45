"""The access log: one line per answered request, written by the request layer (uvicorn's is off).

Errors and slow requests are always logged; other answers as `ACCESS_LOG` says: all, a sample, or none.
In the JSON format a line is encoded here in the formatter's shape and written to stderr in one call:
the logging machinery (a record, the handler's lock, the formatter's generic pass over its fields)
would cost several times the line itself, on every request.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable

import msgspec
from litestar.types import Scope

from service.observability.logs import request_id, timestamp
from service.observability.redaction import redact

log = logging.getLogger("service.access")


class Access(msgspec.Struct, gc=False):
    """The `http` field of an access line. Its one field a client can fill with a secret, the path with
    its query, is scrubbed when the line is made, so the formatters pass the value on as it is."""

    client: str | None
    method: str
    path: str
    version: str
    status: int
    route: str | None
    duration_ms: float


class _JsonLine(msgspec.Struct, gc=False):
    """An access line in the shape of every JSON line (service.observability.logs.JsonFormatter)."""

    timestamp: str
    level: str
    logger: str
    message: str
    request_id: str | None
    http: Access


_encode = msgspec.json.Encoder().encode


class AccessLog:
    def __init__(
        self,
        mode: str = "all",
        sample_rate: float = 0.01,
        slow_seconds: float = 1.0,
        *,
        fmt: str = "json",
        chance: Callable[[], float] = random.random,
    ) -> None:
        self._everything = mode == "all"
        self._rate = sample_rate if mode == "sampled" else 0.0
        self._slow = slow_seconds
        self._json = fmt == "json"
        self._chance = chance

    def wants(self, status: int, seconds: float) -> bool:
        if status >= 400 or seconds >= self._slow or self._everything:
            return True
        return self._rate > 0.0 and self._chance() < self._rate

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        """Log the answer to `scope` if this log wants it; call it with the request id still set."""
        if not self.wants(status, seconds) or not log.isEnabledFor(logging.INFO):
            return
        path = scope["path"]
        if query := scope.get("query_string"):
            path = f"{path}?{query.decode('latin-1')}"
        client = scope.get("client")
        route = scope.get("path_template")
        fields = Access(
            client=f"{client[0]}:{client[1]}" if client else None,
            method=scope["method"],  # type: ignore[typeddict-item]
            path=redact(path),
            version=scope.get("http_version", "1.1"),
            status=status,
            route=route,
            duration_ms=round(seconds * 1000, 3),
        )
        # The method is one of the few the HTTP parser accepts, the route a template of this app.
        message = f"{fields.method} {route or 'unmatched'} {status}"
        if self._json:
            line = _JsonLine(timestamp(time.time()), "INFO", log.name, message, request_id.get(), fields)
            sys.stderr.write(_encode(line).decode() + "\n")
        else:
            log.info(message, extra={"http": fields})
