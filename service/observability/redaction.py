"""Last line of defence: scrub anything that looks like a secret out of text before it is logged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED]"

# Key names whose values are never logged, whatever the value looks like.
SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authorization|api[-_]?key|credential|private[-_]?key|cookie",
    re.IGNORECASE,
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks (private keys pasted into configuration).
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?(-----END [A-Z ]+-----|$)", re.DOTALL), MASK),
    # Authorization header values and bare bearer tokens.
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1 {MASK}"),
    # Anything shaped like a JWT (header.payload.signature, base64url).
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # Passwords inside URLs: scheme://user:password@host.
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), rf"\1{MASK}@"),
    # key=value and "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"""(["']?[\w-]*(?:pass(?:word|wd)?|secret|token|authorization|api[-_]?key|credentials?)"""
            r"""[\w-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,&;{}\[\]"']+)""",
            re.IGNORECASE,
        ),
        rf"\1{MASK}",
    ),
)


# Each pattern above needs one of these (case-folded) to match. Most lines, access log lines among them,
# hold none, and skip the regular expressions, the costly part of redaction.
_MARKERS = (
    "-----begin", "bearer", "basic", "eyj", "://", "pass", "secret", "token", "authorization",
    "apikey", "api-key", "api_key", "credential",
)
# One scan of the text for all of them.
_ANY_MARKER = re.compile("|".join(re.escape(marker) for marker in _MARKERS))


def redact(text: str) -> str:
    """The text with every secret-looking part replaced by a mask."""
    if _ANY_MARKER.search(text.casefold()) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """A structured value, masked entirely when its key names a secret, scrubbed otherwise."""
    if SENSITIVE_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, item) for item in value]
    return value
