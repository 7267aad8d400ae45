"""Request heads are capped and must arrive in time: raw sockets against a real `accounts-service api`.

A 64 MiB Authorization header used to be read into memory whole (67 → 291 MiB), and a client sending
one header line now and then held its connection (and a slot of the server) for ever.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.settings import Settings
from tests.integration.api_process import ApiProcess, api_environment

HEADER_TIMEOUT = 2.0
KEEP_ALIVE = 1


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiProcess]:
    env = api_environment(
        settings, HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT), HTTP_KEEP_ALIVE_TIMEOUT=str(KEEP_ALIVE)
    )
    process = ApiProcess(env)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _connect(api: ApiProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", int(api.env["PORT"])), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _answer(sock: socket.socket, deadline: float = 20.0) -> bytes:
    """Everything the server sends until it closes the connection; a reset counts as closing."""
    received = b""
    sock.settimeout(deadline)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _status(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (EOF or reset) before `seconds` pass."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                if sock.recv(65536) == b"":
                    return True
            except ConnectionResetError:
                return True
    return False


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def test_heads_over_the_limit_are_refused_and_never_read_whole(api: ApiProcess) -> None:
    # Under the 16 KiB limit: served as usual.
    with _connect(api) as sock:
        sock.sendall(_get("/healthz", "X-Filler: " + "a" * 12_000))
        assert _status(_answer(sock)) == 200
    # Over it: 431 (or a reset when the refusal overtakes the rest of the head), never the app's answer.
    for head in (_get("/healthz", "X-Filler: " + "a" * 20_000), _get("/healthz?q=" + "b" * 20_000)):
        with _connect(api) as sock:
            sock.sendall(head)
            answer = _answer(sock)
            assert _status(answer) in (431, None), answer[:200]
            assert b'"status"' not in answer
    # 64 MiB of Authorization: the server stops reading long before the end, and keeps its memory.
    before = _rss_kib(api.process.pid)
    sent = 0
    chunk = b"a" * (1 << 20)
    with _connect(api) as sock:
        sock.sendall(b"GET /api/clients HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ")
        try:
            while sent < 64 << 20:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        answer = _answer(sock)
    assert sent < 64 << 20, "the server read a 64 MiB request head to its end"
    assert _status(answer) in (431, None)
    assert _rss_kib(api.process.pid) - before < 16 * 1024
    with _connect(api) as sock:
        sock.sendall(_get("/healthz"))
        assert _status(_answer(sock)) == 200


def test_slow_and_idle_clients_are_cut_off(api: ApiProcess) -> None:
    # Trickling header lines, each well within any per-read timeout: the head's deadline still ends it.
    with _connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        closed = False
        for line in range(100):
            sock.sendall(f"X-Line-{line}: x\r\n".encode())
            if _closed_within(sock, 0.3):
                closed = True
                break
        assert closed, "a trickled request head kept its connection open for 30 s"
    # Connected and silent.
    with _connect(api) as sock:
        assert _closed_within(sock, HEADER_TIMEOUT + 15)
    # Served, then idle on keep-alive.
    with _connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        readable, _, _ = select.select([sock], [], [], 10)
        assert readable and sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, KEEP_ALIVE + 15)
    # A late head is answered 408 before the connection closes.
    with _connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert _status(_answer(sock, HEADER_TIMEOUT + 15)) == 408
