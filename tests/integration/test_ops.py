import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from service.app import create_app
from service.settings import Settings, load_settings
from tests.integration.api_process import api_environment, settings_env


async def test_a_caller_request_id_is_echoed(client: AsyncTestClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "checkout-42.retry:1"})
    assert response.headers["X-Request-ID"] == "checkout-42.retry:1"


async def test_a_request_id_is_made_when_none_or_an_unsafe_one_is_sent(client: AsyncTestClient) -> None:
    plain = await client.get("/healthz")
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "<script>" + "a" * 200})
    assert len(plain.headers["X-Request-ID"]) == 32
    assert unsafe.headers["X-Request-ID"] not in {plain.headers["X-Request-ID"], ""}
    assert "<script>" not in unsafe.headers["X-Request-ID"]


async def test_unmatched_routes_and_errors_carry_a_request_id_too(client: AsyncTestClient) -> None:
    missing = await client.get("/no/such/route", headers={"X-Request-ID": "lost-1"})
    wrong_method = await client.delete("/healthz", headers={"X-Request-ID": "lost-2"})
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "lost-1")
    assert (wrong_method.status_code, wrong_method.headers["X-Request-ID"]) == (405, "lost-2")


async def test_the_kubernetes_probe_stays_ready_while_kafka_is_down(settings: Settings) -> None:
    broken = load_settings(settings_env(settings, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"))
    async with AsyncTestClient(app=create_app(broken)) as client:
        full = await client.get("/readyz")
        probe = await client.get("/readyz", params={"exclude": "kafka"})
    assert (full.status_code, full.json()["kafka"]) == (503, "unreachable")
    assert probe.status_code == 200
    assert probe.json() == {"status": "ok", "database": "ok"}


async def test_the_probe_still_fails_when_the_database_is_gone(settings: Settings, postgres_url: str) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        admin = await asyncpg.connect(postgres_url)
        try:
            name = urlsplit(settings.database_url).path.lstrip("/")
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        response = await client.get("/readyz", params={"exclude": "kafka"})
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


async def test_an_unknown_check_name_is_a_bad_request(client: AsyncTestClient) -> None:
    response = await client.get("/readyz", params={"exclude": "everything"})
    assert response.status_code == 400


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_collector() -> Iterator[tuple[str, list[bytes]]]:
    """A stand-in OTLP/HTTP collector on the loopback that keeps every export it receives."""
    handler = type("Collector", (_Collector,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", handler.received
    server.shutdown()


async def test_tracing_exports_one_server_span_per_request_named_by_route(
    settings: Settings, otlp_collector: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = otlp_collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    traced = load_settings(settings_env(settings, TRACING_ENABLED="true"))
    async with AsyncTestClient(app=create_app(traced)) as client:
        clients_route = await client.get(
            "/api/clients/4b7a3f0e-0000-4000-8000-000000000001", headers={"X-Request-ID": "traced-1"}
        )
        await client.get("/healthz")
    # Leaving the client ran the lifespan shutdown, which flushed the exporter.

    spans = [
        span
        for body in received
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    servers = [span for span in spans if span.kind == span.SPAN_KIND_SERVER]
    assert clients_route.status_code == 401
    assert [span.name for span in servers] == ["GET /api/clients/{client_id}"]
    attributes = {item.key: item.value.string_value for item in servers[0].attributes}
    assert attributes["http.request.id"] == "traced-1"
    assert attributes["http.route"] == "/api/clients/{client_id}"


def test_the_service_runs_without_opentelemetry_installed(settings: Settings) -> None:
    # A None entry in sys.modules makes every `import opentelemetry...` fail, as on a default install.
    script = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from litestar.testing import TestClient\n"
        "from service.app import create_app\n"
        "from service.settings import load_settings\n"
        f"app = create_app(load_settings({settings_env(settings)!r}))\n"
        "with TestClient(app) as client:\n"
        "    assert client.get('/readyz').status_code == 200\n"
        "    assert client.get('/metrics').status_code == 200\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_tracing_without_the_extra_stops_start_up_with_one_line(settings: Settings) -> None:
    # Blocking the import stands in for an install without the `otel` extra.
    script = (
        "import sys\n"
        "sys.modules['opentelemetry.sdk.trace'] = None\n"
        "from service.cli import main\n"
        "sys.exit(main(['api']))\n"
    )
    env = api_environment(settings, TRACING_ENABLED="true")
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: TRACING_ENABLED needs the otel extra: pip install 'accounts-service[otel]'"
    )
