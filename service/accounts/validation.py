"""Field rules of an account, reported like Symfony's validator (message and constraint code)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from service.errors import BadRequest, Violation
from service.integrations.catalog import Integration

# Symfony constraint codes, so clients written against API Platform recognise them.
NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
NOT_NULL = "ad32d13f-c3d4-423b-909a-857b961eb720"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
INVALID_URL = "57c2f299-1154-4870-89bb-ef3b1f5ad229"
NO_SUCH_CHOICE = "8e179f1b-97aa-4560-a02f-2a8b42e49df7"
NOT_UNIQUE = "23bd9dbf-6b9b-41cd-a99e-4844bcf3077f"
MISSING_FIELD = "2fa2158c-2a7f-484b-98aa-975522539ff8"
NO_SUCH_FIELD = "7703c766-b5d5-4cef-ace7-ae0dd82304e9"
# No Symfony constraint covers a reused Idempotency-Key; this code is the service's own.
IDEMPOTENCY_KEY_REUSED = "5f2b8a4e-1d7c-4c3e-9a61-0b8e2d4f7c19"

BLANK = "This value should not be blank."
NULL = "This value should not be null."
INVALID_CHOICE = "The value you selected is not a valid choice."
ALREADY_USED = "This value is already used."

MAX_NAME = 255
MAX_HEADLINE = 255
MAX_EXTERNAL_ID = 255
MAX_AVATAR = 2048
MAX_STATUS_REASON = 1000
MAX_CREDENTIAL_VALUE = 4096
MAX_JSON_BYTES = 16 * 1024

_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(?:{_HOST_LABEL}\.)+[A-Za-z]{{2,63}}$|^\[[0-9A-Fa-f:.]+\]$")
_FORBIDDEN_URL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f<>\"\\^`{|}]")
_json_size = msgspec.json.Encoder()


def too_long(limit: int, unit: str = "character") -> str:
    return f"This value is too long. It should have {limit} {unit}{'' if limit == 1 else 's'} or less."


def reject_nul(path: str, value: Any) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: refuse it up front (400), wherever it hides."""
    if _has_nul(value):
        raise BadRequest(f'The "{path}" attribute must not contain NUL characters.')


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def check_name(value: str | None, found: list[Violation]) -> None:
    if value is None or not value.strip():
        found.append(Violation("name", BLANK, NOT_BLANK))
    elif len(value) > MAX_NAME:
        found.append(Violation("name", too_long(MAX_NAME), TOO_LONG))


def check_length(path: str, value: str | None, limit: int, found: list[Violation]) -> None:
    if value is not None and len(value) > limit:
        found.append(Violation(path, too_long(limit), TOO_LONG))


def check_external_id(value: str | None, found: list[Violation]) -> None:
    if value is not None and not value.strip():
        found.append(Violation("externalId", BLANK, NOT_BLANK))
    else:
        check_length("externalId", value, MAX_EXTERNAL_ID, found)


def check_avatar(value: str | None, found: list[Violation]) -> None:
    if value is None:
        return
    if len(value) > MAX_AVATAR:
        found.append(Violation("avatar", too_long(MAX_AVATAR), TOO_LONG))
    elif not is_https_url(value):
        found.append(Violation("avatar", "This value is not a valid URL.", INVALID_URL))


def is_https_url(value: str) -> bool:
    """An absolute https URL with a real host name; only parsed, never fetched."""
    if _FORBIDDEN_URL_CHARACTERS.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme.lower() != "https" or not host:
        return False
    host_part = parts.netloc.rpartition("@")[2]
    return bool(_HOST.match(f"[{host}]" if host_part.startswith("[") else host))


def check_json_object(path: str, value: Mapping[str, Any] | None, found: list[Violation]) -> None:
    if value is not None and len(_json_size.encode(value)) > MAX_JSON_BYTES:
        found.append(Violation(path, too_long(MAX_JSON_BYTES, "byte"), TOO_LONG))


def check_credentials(
    integration: Integration, credentials: Mapping[str, str] | None, found: list[Violation]
) -> None:
    """The integration's fields only, non-blank and capped, with one whole required set present."""
    if credentials is None:
        found.append(Violation("credentials", NULL, NOT_NULL))
        return
    allowed = integration.field_names
    for name, value in credentials.items():
        path = f"credentials[{name}]"
        if name not in allowed:
            found.append(Violation(path, "This field was not expected.", NO_SUCH_FIELD))
        elif not value.strip():
            found.append(Violation(path, BLANK, NOT_BLANK))
        elif len(value) > MAX_CREDENTIAL_VALUE:
            found.append(Violation(path, too_long(MAX_CREDENTIAL_VALUE), TOO_LONG))
    given = {name for name, value in credentials.items() if value.strip()}
    if any(given.issuperset(option) for option in integration.required):
        return
    # Report the alternative closest to what was sent; on a tie, the first (the usual one).
    closest = max(integration.required, key=lambda option: len(given.intersection(option)))
    for name in closest:
        if name not in credentials:
            found.append(Violation(f"credentials[{name}]", "This field is missing.", MISSING_FIELD))
