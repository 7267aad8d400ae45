import io
import json
import logging
import secrets
from collections.abc import Iterator

import httpx
import pytest

from service.observability.logs import JsonFormatter, TextFormatter, request_id
from service.settings import Settings
from tests.integration.api_process import ApiProcess, api_environment

CANARY = "canary" + secrets.token_hex(8)
# Shaped like a real access token: header.payload.signature, base64url.
JWT_CANARY = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ" + CANARY + "In0.c2lnbmF0dXJl" + CANARY


@pytest.fixture
def log_stream() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.logging.{secrets.token_hex(4)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_the_standard_fields(
    log_stream: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_stream
    token = request_id.set("req-123")
    try:
        logger.info("account %s created\nsecond line", "a1", extra={"account_id": "a1"})
    finally:
        request_id.reset(token)
    logger.warning("outside any request")

    first, second = lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == logger.name
    assert first["message"] == "account a1 created\nsecond line"
    assert first["request_id"] == "req-123"
    assert first["account_id"] == "a1"
    assert str(first["timestamp"]).endswith("+00:00")
    assert second["request_id"] is None


def test_text_lines_show_the_extra_fields_scrubbed(log_stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log_stream
    logger.handlers[0].setFormatter(TextFormatter())
    logger.warning("database unavailable", extra={"error": "TimeoutError", "password": CANARY})
    line = stream.getvalue().strip()
    assert line.endswith("database unavailable error=TimeoutError password=[REDACTED]")
    assert CANARY not in line


def test_exceptions_are_kept_inside_the_line(log_stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log_stream
    try:
        raise RuntimeError(f"connect failed for postgresql://app:{CANARY}@db/accounts")
    except RuntimeError:
        logger.exception("boom")
    (line,) = lines(stream)
    assert "RuntimeError" in str(line["exception"])
    assert CANARY not in stream.getvalue()


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: Bearer {CANARY}",
        f"login with password={CANARY}",
        f'body {{"username": "u", "password": "{CANARY}"}}',
        f"api_key={CANARY}&x=1",
        f"X-API-KEY: {CANARY}",
        f"token {JWT_CANARY} rejected",
        f"refresh_token: '{CANARY}'",
        f"dsn postgresql://app:{CANARY}@db:5432/accounts",
        f"key -----BEGIN PRIVATE KEY-----\nMII{CANARY}\n-----END PRIVATE KEY-----",
        f'{{"credentials": {{"token": "{CANARY}"}}}}',
    ],
)
def test_secrets_in_messages_are_masked(log_stream: tuple[logging.Logger, io.StringIO], message: str) -> None:
    logger, stream = log_stream
    logger.info(message)
    assert CANARY not in stream.getvalue()
    assert "[REDACTED]" in lines(stream)[0]["message"]


def test_secrets_in_structured_fields_are_masked(log_stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log_stream
    logger.info("request", extra={"password": CANARY, "headers": {"Authorization": CANARY, "Accept": "x"}})
    (line,) = lines(stream)
    assert CANARY not in stream.getvalue()
    assert line["headers"] == {"Authorization": "[REDACTED]", "Accept": "x"}


def test_the_running_api_logs_json_with_request_ids_and_no_secrets(settings: Settings) -> None:
    api = ApiProcess(api_environment(settings, LOG_LEVEL="INFO"))
    try:
        api.wait_ready()
        with httpx.Client(base_url=api.base_url, timeout=10) as http:
            login = http.post(
                "/authentication/login_check",
                json={"username": f"user-{CANARY}@example.com", "password": CANARY},
                headers={"X-Request-ID": "login-attempt-1"},
            )
            bearer = http.get("/api/clients", headers={"Authorization": f"Bearer {JWT_CANARY}"})
            api_key = http.get("/api/clients", headers={"X-API-KEY": CANARY})
            query = http.get(f"/healthz?access_token={CANARY}&jwt={JWT_CANARY}")
        api.terminate()
        api.wait_exit(timeout=30)
    finally:
        api.stop()

    assert login.status_code == 401
    assert (bearer.status_code, api_key.status_code, query.status_code) == (401, 401, 200)
    entries = [json.loads(line) for line in api.lines if line.strip()]
    assert entries, "the api wrote no log lines"
    for entry in entries:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= entry.keys()
    output = "\n".join(api.lines)
    assert CANARY not in output
    access = [entry for entry in entries if entry["logger"] == "service.access"]
    by_id = {entry["request_id"]: entry for entry in access}
    assert by_id["login-attempt-1"]["http"]["status"] == 401
    assert by_id[bearer.headers["X-Request-ID"]]["http"]["path"] == "/api/clients"
    assert by_id[query.headers["X-Request-ID"]]["http"]["status"] == 200
