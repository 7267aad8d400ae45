"""Symfony's validator vocabulary (constraint codes and messages) and the checks every resource shares."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from service.errors import BadRequest

# Symfony constraint codes, so clients written against API Platform recognise them.
NOT_BLANK = "c1051bb4-d103-4f74-8988-acbcafc7fdc3"
NOT_NULL = "ad32d13f-c3d4-423b-909a-857b961eb720"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
INVALID_URL = "57c2f299-1154-4870-89bb-ef3b1f5ad229"
NO_SUCH_CHOICE = "8e179f1b-97aa-4560-a02f-2a8b42e49df7"
NOT_UNIQUE = "23bd9dbf-6b9b-41cd-a99e-4844bcf3077f"
MISSING_FIELD = "2fa2158c-2a7f-484b-98aa-975522539ff8"
NO_SUCH_FIELD = "7703c766-b5d5-4cef-ace7-ae0dd82304e9"

BLANK = "This value should not be blank."
NULL = "This value should not be null."
INVALID_CHOICE = "The value you selected is not a valid choice."
ALREADY_USED = "This value is already used."
NOT_A_URL = "This value is not a valid URL."

# How the OpenAPI document states these rules, for generated clients and validators: a text with at least
# one non-blank character, and URLs that `is_web_url` accepts (a subset: lowercase scheme, named host).
NOT_BLANK_PATTERN = r"\S"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The end is `(?![\s\S])`, not `$`: in Python's regex dialect `$` also matches before a final newline.
_END = r"(?![\s\S])"
_URL_REST = r"(?::[0-9]{1,4})?(?:[/?#][^\s\x00-\x1f\x7f<>\"\\^`{|}]*)?"
WEB_URL_PATTERN = rf"^https?://(?:{_LABEL}\.)*{_LABEL}{_URL_REST}{_END}"
HTTPS_URL_PATTERN = rf"^https://(?:{_LABEL}\.)+[A-Za-z]{{2,63}}{_URL_REST}{_END}"
# A website is trimmed, and a blank one is no website.
TRIMMED_WEB_URL_PATTERN = rf"^\s*(?:https?://(?:{_LABEL}\.)*{_LABEL}{_URL_REST})?\s*{_END}"

_FORBIDDEN_URL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f<>\"\\^`{|}]")
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_HOST_LABEL}\.)*{_HOST_LABEL}$")
_TOP_LEVEL_DOMAIN = re.compile(r"\.[A-Za-z]{2,63}$")
_IPV6_LITERAL = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")


def too_long(limit: int, unit: str = "character") -> str:
    return f"This value is too long. It should have {limit} {unit}{'' if limit == 1 else 's'} or less."


def reject_nul(path: str, value: Any) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: refuse it up front (400), wherever it hides."""
    if _has_nul(value):
        raise BadRequest(f'The "{path}" attribute must not contain NUL characters.')


def reject_nul_fields(body: msgspec.Struct) -> None:
    """`reject_nul` for every field of a decoded body, under its API name, in declaration order."""
    for field, name in zip(body.__struct_fields__, body.__struct_encode_fields__, strict=True):
        reject_nul(name, getattr(body, field))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def is_web_url(
    value: str, *, schemes: frozenset[str] = frozenset({"http", "https"}), require_tld: bool = False
) -> bool:
    """An absolute URL of one of `schemes` with a well-formed host; only parsed, never fetched."""
    if _FORBIDDEN_URL_CHARACTERS.search(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme.lower() not in schemes or not host:
        return False
    if parts.netloc.rpartition("@")[2].startswith("["):
        return bool(_IPV6_LITERAL.match(f"[{host}]"))
    return bool(_DOMAIN.match(host)) and (not require_tld or bool(_TOP_LEVEL_DOMAIN.search(host)))
