"""Client request bodies and their rules, reported like Symfony's validator."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import msgspec

from service.errors import BadRequest, ConstraintViolations, Violation

NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
INVALID_URL = "57c2f299-1154-4870-89bb-ef3b1f5ad229"
MAX_NAME = 255
MAX_WEBSITE = 2048

_FORBIDDEN_URL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f<>\"\\^`{|}]")
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(?:{_HOST_LABEL}\.)*{_HOST_LABEL}$")


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    website: str | None = None


class ClientPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A merge patch: absent fields stay as they are; `website: null` clears the website."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    website: str | msgspec.UnsetType | None = msgspec.UNSET


def validated(name: str | None, website: str | None) -> tuple[str, str | None]:
    """The values to store (name trimmed, blank website as none), or every rule they break (422)."""
    for path, value in (("name", name), ("website", website)):
        if value is not None and "\x00" in value:
            raise BadRequest(f'The "{path}" attribute must not contain NUL characters.')
    found: list[Violation] = []
    name = (name or "").strip()
    if not name:
        found.append(Violation("name", "This value should not be blank.", NOT_BLANK))
    elif len(name) > MAX_NAME:
        found.append(Violation("name", _too_long(MAX_NAME), TOO_LONG))
    website = (website or "").strip() or None
    if website is not None:
        if len(website) > MAX_WEBSITE:
            found.append(Violation("website", _too_long(MAX_WEBSITE), TOO_LONG))
        elif not is_web_url(website):
            found.append(Violation("website", "This value is not a valid URL.", INVALID_URL))
    if found:
        raise ConstraintViolations(found)
    return name, website


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host name; only parsed, never fetched."""
    if _FORBIDDEN_URL_CHARACTERS.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return False
    return bool(_HOST.match(parts.hostname)) or parts.netloc.rpartition("@")[2].startswith("[")


def _too_long(limit: int) -> str:
    return f"This value is too long. It should have {limit} characters or less."
