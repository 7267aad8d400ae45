"""If-Match against an account's version: `*`, `W/"n"`, `"n"` (or a bare n), several separated by commas."""

from __future__ import annotations

from service.errors import BadRequest, PreconditionFailed

STALE = "The account was changed since you read it (If-Match does not match its current ETag)."
# Far more than any list of this service's ETags needs; a longer header is refused, not searched.
MAX_LENGTH = 1024
TOO_LONG = f"The If-Match header must not be longer than {MAX_LENGTH} characters."


def matches(if_match: str | None, version: int) -> bool:
    """Whether the header lets a change to `version` go ahead; no header always does."""
    if if_match is None:
        return True
    if len(if_match) > MAX_LENGTH:
        raise BadRequest(TOO_LONG)
    expected = str(version)
    for candidate in if_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip()
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            tag = tag[1:-1]
        # Compared as text: int() of thousands of digits raises (and would be slow to parse).
        if tag.isascii() and tag.isdigit() and (tag.lstrip("0") or "0") == expected:
            return True
    return False


def require(if_match: str | None, version: int) -> None:
    if not matches(if_match, version):
        raise PreconditionFailed(STALE)
