"""Optional OpenTelemetry tracing: on with TRACING_ENABLED, exported over OTLP, needs the `otel` extra.

The exporter reads the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
OTEL_TRACES_SAMPLER, ...); nothing here is imported unless tracing is switched on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.plugins import InitPlugin, PluginProtocol
from litestar.types import ASGIApp, Receive, Scope, Send

from service import __version__
from service.observability.logs import request_id
from service.settings import Settings, SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

UNTRACED_PATHS = ["/healthz", "/readyz", "/metrics"]
_MISSING_EXTRA = "TRACING_ENABLED needs the otel extra: pip install 'accounts-service[otel]'"


def require_tracing_extra(settings: Settings) -> None:
    """Stop start-up with one clear line when tracing is on but its packages are not installed."""
    if settings.tracing_enabled:
        try:
            import opentelemetry.exporter.otlp.proto.http.trace_exporter
            import opentelemetry.sdk.trace  # noqa: F401
        except ImportError:
            raise SettingsError(_MISSING_EXTRA) from None


class Tracing:
    """A tracer provider for this app, the Litestar plugins that use it, and its shutdown."""

    def __init__(self, provider: TracerProvider, plugins: list[PluginProtocol]) -> None:
        self.provider = provider
        self.plugins = plugins
        self._record_factory = logging.getLogRecordFactory()

    @classmethod
    def from_settings(cls, settings: Settings, exporter: SpanExporter | None = None) -> Tracing | None:
        """None when tracing is off; SettingsError when it is on but the extra is missing."""
        if not settings.tracing_enabled:
            return None
        try:
            from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise SettingsError(_MISSING_EXTRA) from None
        resource = Resource.create({"service.version": __version__})
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "accounts-service"}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
        config = OpenTelemetryConfig(
            tracer_provider=provider,
            exclude=UNTRACED_PATHS,
            server_request_hook_handler=_tag_request,
            http_capture_headers_sanitize_fields=["authorization", "x-api-key", "cookie"],
        )
        return cls(provider, [OpenTelemetryPlugin(config), _RouteSpanNames()])

    def start(self) -> None:
        """Stamp log lines written inside a span with its trace and span ids."""
        from opentelemetry import trace

        previous = self._record_factory

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
            return record

        logging.setLogRecordFactory(factory)

    def shutdown(self) -> None:
        """Flush the spans still buffered; restore plain log records."""
        logging.setLogRecordFactory(self._record_factory)
        self.provider.shutdown()


def _tag_request(span: Span, scope: dict[str, Any]) -> None:
    if span.is_recording() and (rid := request_id.get()):
        span.set_attribute("http.request.id", rid)


class _RouteSpanNames(InitPlugin):
    """Names server spans by route template once routing is done (raw paths would explode span names)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # First, so requests that other middleware rejects (401, 403) are named too.
        app_config.middleware.insert(0, _name_span)
        return app_config


def _name_span(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry import trace

        template = scope.get("path_template")
        span = trace.get_current_span()
        if template and span.is_recording() and scope["type"] == ScopeType.HTTP:
            span.update_name(f"{scope['method']} {template}")
            span.set_attribute("http.route", template)
        await app(scope, receive, send)

    return middleware
