"""Browser origins an organization allows: exact `scheme://host[:port]`, normalised as browsers send them."""

from __future__ import annotations

import re

from service.errors import ConstraintViolations, Violation
from service.web.constraints import INVALID_URL, reject_nul

MAX_ORIGINS = 50
MAX_ORIGIN_LENGTH = 255
# Symfony's Count constraint (too many elements).
TOO_MANY = "756b1212-697c-468d-a9ad-50dd783bb169"
NOT_AN_ORIGIN = "This value is not a valid origin: scheme://host[:port], without a path or wildcard."
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
# The one definition of an origin: the OpenAPI document states it, the validation applies it. Written
# without flags (JSON Schema has none); the end is `(?![\s\S])` because Python's `$` allows a final
# newline. Input is capped at MAX_ORIGIN_LENGTH before matching.
ORIGIN_PATTERN = (
    rf"^([Hh][Tt][Tt][Pp][Ss]?)://((?:{_LABEL}\.)*{_LABEL}|\[[0-9A-Fa-f:.]{{2,45}}\])(?::({_PORT}))?(?![\s\S])"
)
_ORIGIN = re.compile(ORIGIN_PATTERN)


def normalised_origin(value: str) -> str | None:
    """The origin as a browser's `Origin` header spells it (lower case, no default port), or None."""
    if len(value) > MAX_ORIGIN_LENGTH:
        return None
    match = _ORIGIN.match(value)
    if match is None:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port is None or int(port) == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def validated_origins(values: list[str]) -> list[str]:
    """The origins to store (normalised, first occurrence kept), or every rule they break (422)."""
    reject_nul("allowedOrigins", values)
    found: list[Violation] = []
    if len(values) > MAX_ORIGINS:
        message = f"This collection should contain {MAX_ORIGINS} elements or less."
        found.append(Violation("allowedOrigins", message, TOO_MANY))
    kept: list[str] = []
    for index, value in enumerate(values[: MAX_ORIGINS + 1]):
        origin = normalised_origin(value)
        if origin is None:
            found.append(Violation(f"allowedOrigins[{index}]", NOT_AN_ORIGIN, INVALID_URL))
        elif origin not in kept:
            kept.append(origin)
    if found:
        raise ConstraintViolations(found)
    return kept
