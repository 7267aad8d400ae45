"""Log lines without any secret-looking marker skip the patterns; every kind of secret is still masked."""

from __future__ import annotations

import pytest

from service.observability.redaction import MASK, redact


@pytest.mark.parametrize(
    "line",
    [
        "Authorization: BEARER abc.def",
        "basic dXNlcjpwYXNz",
        "token eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
        "connecting to postgresql://app:hunter2@db/accounts",
        '{"PassWord": "hunter2"}',
        "API-KEY=abc123",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----",
        "pa\u017f\u017fword=hunter2",  # long s: the patterns ignore case the Unicode way
    ],
)
def test_secrets_are_masked_whatever_their_case(line: str) -> None:
    redacted = redact(line)
    assert MASK in redacted
    assert "hunter2" not in redacted


def test_an_access_log_line_is_returned_as_is() -> None:
    line = '127.0.0.1:50000 - "GET /api/accounts/0b7c1e1c-6f5b-4a0e-9d7e-1f2a3b4c5d6e HTTP/1.1" 200'
    assert redact(line) is line
