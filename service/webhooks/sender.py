"""One webhook request: only to checked addresses, no redirects, strict timeouts, a capped answer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from service import __version__
from service.webhooks.addresses import AddressRefused, is_public, literal_address, resolve_all

# Bytes of a receiver's answer read at most (the rest is never downloaded); a snippet is kept.
_BODY_CAP = 4096
_SNIPPET = 200
# Endpoints whose connection pools are kept open at once; the least recently used is closed beyond.
_MAX_POOLS = 1000
USER_AGENT = f"accounts-service-webhooks/{__version__}"
_FIXED_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True)
class Attempt:
    """What happened: the status (None when there was no answer), Retry-After, an error, the latency."""

    status: int | None
    retry_after: str | None
    error: str | None
    latency_ms: float
    kind: str


class CheckedResolver(AbstractResolver):
    """Resolves at connect time and refuses the host unless every address it resolves to is allowed.

    The connection then goes to exactly these addresses: no second lookup can differ from the one checked.
    """

    def __init__(self, *, allow_private: bool, within: float) -> None:
        self._allow_private = allow_private
        self._within = within

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await resolve_all(host, port, allow_private=self._allow_private, within=self._within)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST,
            )
            for address in found
        ]

    async def close(self) -> None:
        return None


class Sender:
    """Posts signed events; a small connection pool per endpoint.

    A pool per endpoint, as large as its in-flight cap, means one endpoint that hangs never holds the
    connections another endpoint (even on the same host) needs.
    """

    def __init__(
        self, *, connect_timeout: float, read_timeout: float, allow_private: bool, per_receiver: int = 10
    ) -> None:
        self._deadline = connect_timeout + read_timeout
        self._timeout = aiohttp.ClientTimeout(
            total=self._deadline, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._allow_private = allow_private
        self._resolver = CheckedResolver(allow_private=allow_private, within=connect_timeout)
        self._per_receiver = per_receiver
        self._sessions: OrderedDict[object, aiohttp.ClientSession] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            await session.close()

    def _session(self, key: object) -> aiohttp.ClientSession:
        session = self._sessions.get(key)
        if session is None:
            if len(self._sessions) >= _MAX_POOLS:
                _, oldest = self._sessions.popitem(last=False)
                closing = asyncio.get_running_loop().create_task(oldest.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
            connector = aiohttp.TCPConnector(
                limit=self._per_receiver,
                resolver=self._resolver,
                ttl_dns_cache=10,
                keepalive_timeout=30,
                happy_eyeballs_delay=None,
            )
            session = self._sessions[key] = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                trust_env=False,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Content-Type",),
            )
        else:
            self._sessions.move_to_end(key)
        return session

    async def post(self, url: str, body: bytes, headers: dict[str, str], pool: object = None) -> Attempt:
        """One attempt; `pool` names the connection pool to use (the endpoint)."""
        started = time.perf_counter()

        def attempt(status: int | None, error: str | None, kind: str, retry: str | None = None) -> Attempt:
            return Attempt(status, retry, error, (time.perf_counter() - started) * 1000, kind)

        try:
            async with asyncio.timeout(self._deadline):
                target = URL(url)
                self._check_literal(target)
                async with self._session(pool).post(
                    target, data=body, headers={**headers, **_FIXED_HEADERS}, allow_redirects=False
                ) as response:
                    answer = await _capped(response)
        except AddressRefused as exc:
            return attempt(None, f"refused: {exc}", "refused")
        except TimeoutError:
            return attempt(None, "timed out", "timeout")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            refused = _refusal_behind(exc)
            if refused is not None:
                return attempt(None, f"refused: {refused}", "refused")
            return attempt(None, f"{type(exc).__name__}: {exc}"[:_SNIPPET], "network_error")
        status = response.status
        ok = 200 <= status < 300
        error = None if ok else f"HTTP {status}: {answer.decode(errors='replace')[:_SNIPPET]}".strip()
        return attempt(status, error, "success" if ok else "http_error", response.headers.get("Retry-After"))

    def _check_literal(self, url: URL) -> None:
        """A host that is an address literal never reaches the resolver, so it is checked here."""
        address = literal_address(url.raw_host or "")
        if address is not None and not self._allow_private and not is_public(address):
            raise AddressRefused(f"{url.raw_host} is a non-public address")


def _refusal_behind(exc: BaseException) -> AddressRefused | None:
    """The resolver's refusal, when the client wrapped it in one of its own errors."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def _capped(response: aiohttp.ClientResponse) -> bytes:
    """At most _BODY_CAP bytes of the answer; an answer not read to its end closes the connection."""
    kept = bytearray()
    while len(kept) < _BODY_CAP:
        chunk = await response.content.read(_BODY_CAP - len(kept))
        if not chunk:
            break
        kept += chunk
    return bytes(kept)
