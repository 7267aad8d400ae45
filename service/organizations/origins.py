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
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
# No nested repetition: matching is linear in the length (which is capped first anyway).
_ORIGIN = re.compile(
    rf"(https?)://((?:{_LABEL}\.)*{_LABEL}|\[[0-9a-f:.]{{2,45}}\])(?::([0-9]{{1,5}}))?", re.IGNORECASE
)


def normalised_origin(value: str) -> str | None:
    """The origin as a browser's `Origin` header spells it (lower case, no default port), or None."""
    if len(value) > MAX_ORIGIN_LENGTH:
        return None
    match = _ORIGIN.fullmatch(value)
    if match is None:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port is None or int(port) == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    if not 1 <= int(port) <= 65535:
        return None
    return f"{scheme}://{host}:{int(port)}"


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
