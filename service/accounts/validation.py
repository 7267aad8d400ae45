"""Field rules of an account, reported like Symfony's validator (message and constraint code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from service.errors import Violation
from service.integrations.catalog import Integration
from service.web.constraints import (
    BLANK,
    INVALID_URL,
    MISSING_FIELD,
    NO_SUCH_FIELD,
    NOT_A_URL,
    NOT_BLANK,
    NOT_NULL,
    NULL,
    TOO_LONG,
    is_web_url,
    too_long,
)

# No Symfony constraint covers a reused Idempotency-Key; this code is the service's own.
IDEMPOTENCY_KEY_REUSED = "5f2b8a4e-1d7c-4c3e-9a61-0b8e2d4f7c19"

MAX_NAME = 255
MAX_HEADLINE = 255
MAX_EXTERNAL_ID = 255
MAX_AVATAR = 2048
MAX_STATUS_REASON = 1000
MAX_CREDENTIAL_VALUE = 4096
MAX_JSON_BYTES = 16 * 1024

_HTTPS = frozenset({"https"})
_json_size = msgspec.json.Encoder()


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
        found.append(Violation("avatar", NOT_A_URL, INVALID_URL))


def is_https_url(value: str) -> bool:
    """An absolute https URL whose host has a top-level domain (or is an IPv6 literal)."""
    return is_web_url(value, schemes=_HTTPS, require_tld=True)


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
