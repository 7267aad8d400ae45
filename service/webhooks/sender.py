"""One webhook request: to the address that was checked, no redirects, strict timeouts, a capped answer."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from service import __version__
from service.webhooks.addresses import AddressRefused, resolve

# Bytes of a receiver's answer read at most (the rest is never downloaded); a snippet is kept.
_BODY_CAP = 4096
_SNIPPET = 200
# Endpoints whose connection pools are kept open at once; the least recently used is closed beyond.
_MAX_POOLS = 1000
USER_AGENT = f"accounts-service-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What happened: the status (None when there was no answer), Retry-After, an error, the latency."""

    status: int | None
    retry_after: str | None
    error: str | None
    latency_ms: float
    kind: str


class Sender:
    """Posts signed events; a small connection pool per endpoint.

    A pool per endpoint, as large as its in-flight cap, means one endpoint that hangs never holds the
    connections another endpoint (even on the same host) needs; and httpcore looks at every connection
    of a pool for each request, so small pools also keep each request cheap.
    """

    def __init__(
        self, *, connect_timeout: float, read_timeout: float, allow_private: bool, per_receiver: int = 10
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._deadline = connect_timeout + read_timeout
        self._allow_private = allow_private
        self._per_receiver = per_receiver
        self._clients: OrderedDict[object, httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    def _client(self, key: object) -> httpx.AsyncClient:
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= _MAX_POOLS:
                _, oldest = self._clients.popitem(last=False)
                closing = asyncio.get_running_loop().create_task(oldest.aclose())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            client = self._clients[key] = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(
                    self._read_timeout, connect=self._connect_timeout, pool=self._read_timeout
                ),
                limits=httpx.Limits(
                    max_connections=self._per_receiver,
                    max_keepalive_connections=self._per_receiver,
                    keepalive_expiry=30,
                ),
            )
        else:
            self._clients.move_to_end(key)
        return client

    async def post(self, url: str, body: bytes, headers: dict[str, str], pool: object = None) -> Attempt:
        """One attempt; `pool` names the connection pool to use (the endpoint)."""
        started = time.perf_counter()

        def attempt(status: int | None, error: str | None, kind: str, retry: str | None = None) -> Attempt:
            return Attempt(status, retry, error, (time.perf_counter() - started) * 1000, kind)

        try:
            async with asyncio.timeout(self._deadline):
                parsed = httpx.URL(url)
                request = await self._pinned(parsed, body, headers)
                client = self._client(pool)
                async with client.stream(
                    "POST", request.url, content=body, headers=request.headers, extensions=request.extensions
                ) as response:
                    answer = await _capped(response)
        except AddressRefused as exc:
            return attempt(None, f"refused: {exc}", "refused")
        except (TimeoutError, httpx.TimeoutException):
            return attempt(None, "timed out", "timeout")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return attempt(None, f"{type(exc).__name__}: {exc}"[:_SNIPPET], "network_error")
        status = response.status_code
        ok = 200 <= status < 300
        error = None if ok else f"HTTP {status}: {answer.decode(errors='replace')[:_SNIPPET]}".strip()
        return attempt(status, error, "success" if ok else "http_error", response.headers.get("retry-after"))

    async def _pinned(self, url: httpx.URL, body: bytes, headers: dict[str, str]) -> httpx.Request:
        """The request to the resolved, checked address, still naming the host (Host header, TLS SNI)."""
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await resolve(
            url.host, port, allow_private=self._allow_private, within=self._connect_timeout
        )
        # The connection goes to exactly the address checked above: no second lookup can differ.
        target = url.copy_with(host=str(address))
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        host = url.netloc.decode("ascii")
        sent = {**headers, "Host": host, "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        return httpx.Request("POST", target, headers=sent, content=body, extensions=extensions)


async def _capped(response: httpx.Response) -> bytes:
    """At most _BODY_CAP bytes of the answer; the connection is dropped rather than read further."""
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= _BODY_CAP:
            break
    return bytes(kept[:_BODY_CAP])
