"""Webhook tests' helpers: a scriptable HTTP receiver on 127.0.0.1, settings, and waiting for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.accounts.keyring import load_cipher
from service.app import create_app
from service.auth.principal import Principal
from service.auth.tokens import TokenService
from service.settings import Settings, load_settings
from service.webhooks.dispatcher import dispatcher_alongside
from tests import eventing
from tests.identity import Tenant


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    # What the receiver answered; 0 while it hangs.
    status: int = 0

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = msgspec.json.decode(self.body)
        return document


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: bool = False


Behaviour = Callable[[Received, int], Reply]


def always_ok(_: Received, __: int) -> Reply:
    return Reply()


class Receiver:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) answering as `behave` says.

    `behave(request, n)` sees each request and how many requests with the same `webhook-id` came before.
    A hanging answer waits until the receiver stops, so the sender's read timeout is what ends it.
    """

    def __init__(self, behave: Behaviour = always_ok) -> None:
        self.behave = behave
        self.requests: list[Received] = []
        self._seen: dict[str, int] = {}
        self._release = asyncio.Event()
        self._server: asyncio.Server | None = None
        # Requests being answered right now, and the most there ever were at once.
        self.open = 0
        self.most_open = 0

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                fields = (line.partition(":") for line in lines[1:] if line)
                headers = {name.strip().lower(): value.strip() for name, _, value in fields}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(path, headers, body, time.monotonic())
                self.requests.append(request)
                self.open += 1
                self.most_open = max(self.most_open, self.open)
                key = headers.get("webhook-id", "")
                before = self._seen.get(key, 0)
                self._seen[key] = before + 1
                reply = self.behave(request, before)
                request.status = 0 if reply.hang else reply.status
                if reply.hang:
                    # Until the sender gives up (closes the connection) or the receiver stops.
                    waiters = [
                        asyncio.ensure_future(self._release.wait()),
                        asyncio.ensure_future(reader.read(1)),
                    ]
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in waiters:
                        waiter.cancel()
                    self.open -= 1
                    return
                self.open -= 1
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                writer.write(
                    f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n{extra}\r\n".encode()
                    + reply.body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def unique(self) -> list[Received]:
        """The requests after dropping repeats of a `webhook-id` (what a deduplicating receiver keeps)."""
        kept: dict[str, Received] = {}
        for request in self.requests:
            if 200 <= request.status < 300:
                kept.setdefault(request.headers["webhook-id"], request)
        return sorted(kept.values(), key=lambda r: r.at)


def events_of(tenant: Tenant, index: int = 0) -> eventing.Tenant:
    """The identity tenant's organization and one of its clients, as the event writers take them."""
    return eventing.Tenant(tenant.organization_id, tenant.client_ids[index])


def webhook_settings(settings: Settings, **overrides: Any) -> Settings:
    """Loopback receivers allowed, a short retry schedule and timeouts, a quick poll."""
    values: dict[str, Any] = {
        "webhooks_allow_private_urls": True,
        "webhooks_retry_schedule": "0,0.2,0.2,0.2,0.2,0.2,0.2,0.2",
        "webhooks_connect_timeout": 2.0,
        "webhooks_read_timeout": 1.0,
        "webhooks_poll_interval": 0.1,
    }
    return msgspec.structs.replace(settings, **(values | overrides))


class WebhookApi:
    """The in-process app and bearer tokens, for the endpoint operations."""

    def __init__(self, http: Any, settings: Settings) -> None:
        self.http = http
        self.tokens = TokenService.from_settings(settings)

    def headers(self, who: Principal, **extra: str) -> dict[str, str]:
        token = self.tokens.issue(who).token
        return {"Authorization": f"Bearer {token}", "Accept": "application/json", **extra}

    async def create(self, who: Principal, **body: Any) -> Any:
        return await self.http.post("/api/webhook_endpoints", json=body, headers=self.headers(who))

    async def created(self, who: Principal, **body: Any) -> dict[str, Any]:
        response = await self.create(who, **body)
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    async def patch(self, who: Principal, endpoint_id: str, body: Any) -> Any:
        headers = self.headers(who, **{"Content-Type": "application/merge-patch+json"})
        return await self.http.patch(f"/api/webhook_endpoints/{endpoint_id}", json=body, headers=headers)

    async def deliveries(self, who: Principal, endpoint_id: str, query: str = "") -> list[dict[str, Any]]:
        path = f"/api/webhook_endpoints/{endpoint_id}/deliveries?itemsPerPage=100{query}"
        response = await self.http.get(path, headers=self.headers(who))
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows


@pytest.fixture(name="wh_settings")
def wh_settings_fixture(database_url: str, jwt_private_key: str) -> Settings:
    """The suite's settings without Kafka (webhooks never need it), tuned for quick webhook tests."""
    from tests.conftest import CREDENTIALS_KEYS, TEST_IDENTITY_ENV

    base = load_settings(
        {
            "DATABASE_URL": database_url,
            "JWT_PRIVATE_KEY": jwt_private_key,
            "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
            **TEST_IDENTITY_ENV,
        }
    )
    return webhook_settings(base)


@pytest.fixture(name="wh_api")
async def wh_api_fixture(wh_settings: Settings) -> AsyncIterator[WebhookApi]:
    async with AsyncTestClient(app=create_app(wh_settings)) as http:
        yield WebhookApi(http, wh_settings)


@asynccontextmanager
async def dispatching(settings: Settings) -> AsyncIterator[None]:
    """A dispatcher running in this event loop for the block."""
    async with dispatcher_alongside(settings, load_cipher(settings)):
        yield
