"""Request bodies: media type check, then one msgspec decode into a request Struct, errors made readable."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from service.errors import BadRequest, UnsupportedMediaType

T = TypeVar("T")

JSON_TYPES = ("application/ld+json", "application/json")
MERGE_PATCH = ("application/merge-patch+json",)

# Deeper JSON is refused before decoding: decoding, validation, encoding and jsonb all recurse, and the
# first to run out of stack would answer 500. Settings and metadata never need more.
MAX_DEPTH = 64
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENING, _CLOSING = frozenset(b"[{"), frozenset(b"]}")

_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]*)`")
_WRONG_TYPE = re.compile(r"^Expected `([^`]*)`, got `([^`]*)`(?: - at `\$\.?([^`]*)`)?$")
_AT = re.compile(r"^(.*) - at `\$\.?([^`]*)`$")


def check_media_type(content_type: str | None, accepted: tuple[str, ...]) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in accepted:
        shown = media_type or "none"
        raise UnsupportedMediaType(
            f'The content-type "{shown}" is not supported. Supported MIME types are "{", ".join(accepted)}".'
        )


def decode(raw: bytes, kind: type[T], content_type: str | None, accepted: tuple[str, ...] = JSON_TYPES) -> T:
    """Decode a body into `kind`; every failure is a 400 (or 415) that says what is wrong."""
    check_media_type(content_type, accepted)
    if nested_deeper_than(raw, MAX_DEPTH):
        raise BadRequest(f"The request body is nested more than {MAX_DEPTH} levels deep.")
    try:
        return msgspec.json.decode(raw, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raise BadRequest(describe(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        # msgspec reports invalid UTF-8 inside a string as a UnicodeDecodeError: still not valid JSON.
        raise BadRequest("Syntax error: the request body is not valid JSON.") from None


def nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether JSON text opens more than `limit` arrays or objects inside each other (strings skipped)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSING:
            depth -= 1
    return False


def describe(exc: msgspec.ValidationError) -> str:
    """Turn msgspec's message into API Platform's wording, naming the attribute."""
    text = str(exc)
    if unknown := _UNKNOWN_FIELD.search(text):
        return f'Extra attributes are not allowed ("{unknown[1]}" is unknown).'
    if wrong := _WRONG_TYPE.match(text):
        expected, given, path = wrong.groups()
        if not path:
            return f'The request body must be a JSON object, "{given}" given.'
        return f'The type of the "{path}" attribute must be "{expected}", "{given}" given.'
    if located := _AT.match(text):
        message, path = located.groups()
        return f'"{path}": {message}.' if path else f"{message}."
    return text
