"""Log redaction costs time linear in its input, whatever the input: a hostile request line must not
stall the event loop that writes the access log (it used to take hours for 64 KiB)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.observability.redaction import MASK, MAX_TEXT, redact, truncate
from service.settings import Settings
from tests.integration.api_process import ApiProcess, api_environment

# Linear work finishes in seconds even on a loaded machine; the old patterns needed hours.
GIVE_UP_AFTER = 180


def test_redaction_cost_per_byte_does_not_grow_with_the_input() -> None:
    """Adversarial texts from hypothesis, 1 KiB against 64 KiB, compared by CPU time per byte."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.security.redaction_cost"],
            capture_output=True,
            text=True,
            timeout=GIVE_UP_AFTER,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"redaction of 64 KiB did not finish within {GIVE_UP_AFTER} s") from None
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "linear"


def test_long_text_is_cut_before_redaction_and_no_secret_half_survives() -> None:
    secret = "s3cr3t-value-" * 10
    for text in [
        "GET /?a=1&password=" + secret * 300,
        "x " * (MAX_TEXT // 2 - 10) + "postgresql://app:" + secret + "@db/accounts",
        "y " * (MAX_TEXT // 2 - 5) + '{"password": "' + secret + " more words" + '"}',
    ]:
        redacted = redact(text)
        assert len(redacted) <= MAX_TEXT + 40
        assert "s3cr3t" not in redacted
        assert "more characters]" in redacted
    assert truncate("a" * 10) == "a" * 10
    assert redact("token=" + secret) == f"token={MASK}"


# As long as a request target can be (httptools parses URLs of less than 64 KiB).
HOSTILE = 63 * 1024
# Bound on a concurrent /healthz: far above a loaded machine's scheduling noise, far below the
# minutes the old patterns took.
HEALTHZ_BOUND = 2.0


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiProcess]:
    # A head limit above the hostile request line, so that it reaches the access log.
    process = ApiProcess(api_environment(settings, HTTP_MAX_HEADER_BYTES=str(4 * HOSTILE)))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _hostile_queries() -> list[str]:
    """Secret-like words over and over, no `=` after them; characters a request target may hold as is."""
    return [(word * HOSTILE)[:HOSTILE] for word in ("token", "password:'", "secret_x-api_key.")]


def test_a_hostile_query_string_does_not_hold_up_the_api(api: ApiProcess) -> None:
    port = int(api.env["PORT"])
    for query in _hostile_queries():
        with socket.create_connection(("127.0.0.1", port), timeout=30) as hostile:
            target = "/api/accounts?" + query
            hostile.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            started = time.monotonic()
            health = httpx.get(f"{api.base_url}/healthz", timeout=30)
            waited = time.monotonic() - started
            assert health.status_code == 200
            assert waited < HEALTHZ_BOUND, f"/healthz waited {waited:.1f} s behind a hostile request"
            answer = hostile.recv(4096)
            assert answer.startswith(b"HTTP/1.1 401"), answer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_long_access_lines(api)) < len(_hostile_queries()):
        time.sleep(0.05)
    lines = _long_access_lines(api)
    assert len(lines) == len(_hostile_queries())
    assert all(len(entry["http"]["path"]) <= MAX_TEXT + 40 for entry in lines)


def _long_access_lines(api: ApiProcess) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in list(api.lines) if line.startswith("{")]
    return [e for e in entries if e["logger"] == "service.access" and "more characters]" in e["http"]["path"]]
