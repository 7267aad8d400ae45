"""One webhook request: to the address that was checked, no redirects, strict timeouts, a capped answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from service import __version__
from service.webhooks.addresses import AddressRefused, resolve

# Bytes of a receiver's answer read at most (the rest is never downloaded); a snippet is kept.
_BODY_CAP = 4096
_SNIPPET = 200
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
    """Posts signed events; one client (and connection pool) for every endpoint."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, allow_private: bool) -> None:
        self._connect_timeout = connect_timeout
        self._deadline = connect_timeout + read_timeout
        self._allow_private = allow_private
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=read_timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=200, keepalive_expiry=30),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        started = time.perf_counter()

        def attempt(status: int | None, error: str | None, kind: str, retry: str | None = None) -> Attempt:
            return Attempt(status, retry, error, (time.perf_counter() - started) * 1000, kind)

        try:
            async with asyncio.timeout(self._deadline):
                request = await self._pinned(httpx.URL(url), body, headers)
                async with self._client.stream(
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
