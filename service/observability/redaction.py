"""Last line of defence: scrub anything that looks like a secret out of text before it is logged.

Log text is untrusted (request lines, headers, bodies in errors), so every pattern runs on RE2, whose
cost is linear in the text whatever it holds, and text is cut to `MAX_TEXT` characters first.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import re2

MASK = "[REDACTED]"
# Longer log text is cut here before it is scrubbed: a hostile request line is bounded work.
MAX_TEXT = 16 * 1024
# Tracebacks are longer, and their end (the error itself) matters most: they get more room.
MAX_TRACEBACK = 64 * 1024
_CUT = " […{} more characters]"

# Key names whose values are never logged, whatever the value looks like.
SENSITIVE_KEY = re2.compile(
    r"(?i)pass(word|wd)?|secret|token|authorization|api[-_]?key|credential|private[-_]?key|cookie"
)

_PATTERNS: tuple[tuple[Any, str], ...] = (
    # PEM blocks (private keys pasted into configuration), also when the text ends inside one.
    (re2.compile(r"(?s)-----BEGIN [A-Z ]{1,64}-----.*?(?:-----END [A-Z ]{1,64}-----|$)"), MASK),
    # Authorization header values and bare bearer tokens.
    (re2.compile(r"(?i)\b(Bearer|Basic)\s{1,16}[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    # Anything shaped like a JWT (header.payload.signature, base64url).
    (re2.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # Passwords inside URLs: scheme://user:password@host.
    (re2.compile(r"(?i)([a-z][a-z0-9+.-]{0,31}://[^/\s:@]{0,256}:)[^@\s/]+@"), rf"\1{MASK}@"),
    # key=value and "key": "value" pairs whose key names a secret; a quote left open runs to the end.
    (
        re2.compile(
            r"""(?i)(["']?[\w-]{0,40}(?:pass(?:word|wd)?|secret|token|authorization|api[-_]?key|"""
            r"""credentials?)[\w-]{0,40}["']?\s{0,16}[:=]\s{0,16})("[^"]*(?:"|$)|'[^']*(?:'|$)|"""
            r"""[^\s,&;{}\[\]"']+)"""
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
# Where a cut text may be shortened to, so that no half of a secret is left for the patterns to miss.
_DELIMITERS = " \t\r\n&,;?"


def _has_marker(folded: str) -> bool:
    # Substring searches (linear each); on short lines far cheaper than a call into RE2, and a plain
    # loop cheaper than any() over a generator.
    for marker in _MARKERS:  # noqa: SIM110
        if marker in folded:
            return True
    return False


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """The text cut to `limit` characters, back to the last delimiter before the cut, and marked."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    # The token the cut goes through might be a secret the patterns no longer recognise: drop it.
    boundary = max(head.rfind(delimiter) for delimiter in _DELIMITERS)
    head = head[: boundary + 1] if boundary >= 0 else ""
    return head + _CUT.format(len(text) - len(head))


def redact(text: str, limit: int = MAX_TEXT) -> str:
    """The text (cut to `limit` characters) with every secret-looking part replaced by a mask."""
    text = truncate(text, limit)
    if not _has_marker(text.casefold()):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    # Keys are the field names of the code's own log calls: a few dozen, looked up once each.
    return SENSITIVE_KEY.search(key) is not None


def redact_value(key: str, value: Any) -> Any:
    """A structured value, masked entirely when its key names a secret, scrubbed otherwise."""
    if _names_a_secret(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, item) for item in value]
    return value
