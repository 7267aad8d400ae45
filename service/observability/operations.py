"""Per-app operational wiring: the drain flag, tracing, the request context layer, the metrics route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any, ClassVar

from litestar import Litestar
from litestar.plugins import PluginProtocol

from service.observability import metrics
from service.observability.access import AccessLog
from service.observability.requests import RequestContext
from service.observability.shutdown import Drain, drain_on_sigterm
from service.observability.tracing import Tracing
from service.settings import Settings


class Operations:
    """What an app needs to be run and watched; `handle_signals` only for the real server process."""

    route_handlers: ClassVar[list[Any]] = [metrics.scrape]

    def __init__(self, settings: Settings, *, handle_signals: bool = False) -> None:
        self.settings = settings
        self.drain = Drain()
        self.tracing = Tracing.from_settings(settings)
        self._handle_signals = handle_signals

    @property
    def plugins(self) -> list[PluginProtocol]:
        return self.tracing.plugins if self.tracing else []

    @asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        if self.tracing:
            self.tracing.start()
        signals = (
            drain_on_sigterm(self.drain, self.settings.shutdown_drain_seconds)
            if self._handle_signals
            else nullcontext()
        )
        try:
            with signals:
                yield
        finally:
            if self.tracing:
                self.tracing.shutdown()

    def instrument(self, app: Litestar) -> Litestar:
        """Wrap the whole ASGI handler: app middleware would miss unmatched routes and 405s."""
        settings = self.settings
        access_log = AccessLog(
            settings.access_log,
            settings.access_log_sample_rate,
            settings.access_log_slow_seconds,
            fmt=settings.log_format,
        )
        app.asgi_handler = RequestContext(app.asgi_handler, access_log)
        return app
