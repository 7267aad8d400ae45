"""If-Match against an account's version: `*`, `W/"n"`, `"n"` (or a bare n), several separated by commas."""

from __future__ import annotations

from service.errors import PreconditionFailed

STALE = "The account was changed since you read it (If-Match does not match its current ETag)."


def matches(if_match: str | None, version: int) -> bool:
    """Whether the header lets a change to `version` go ahead; no header always does."""
    if if_match is None:
        return True
    for candidate in if_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip()
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        if tag.isascii() and tag.isdigit() and int(tag) == version:
            return True
    return False


def require(if_match: str | None, version: int) -> None:
    if not matches(if_match, version):
        raise PreconditionFailed(STALE)
