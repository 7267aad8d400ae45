"""Client request bodies and their rules, reported like Symfony's validator."""

from __future__ import annotations

import msgspec

from service.errors import ConstraintViolations, Violation
from service.web.constraints import (
    BLANK,
    INVALID_URL,
    NOT_A_URL,
    NOT_BLANK,
    TOO_LONG,
    is_web_url,
    reject_nul,
    too_long,
)

MAX_NAME = 255
MAX_WEBSITE = 2048


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    website: str | None = None


class ClientPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A merge patch: absent fields stay as they are; `website: null` clears the website."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    website: str | msgspec.UnsetType | None = msgspec.UNSET


def validated(name: str | None, website: str | None) -> tuple[str, str | None]:
    """The values to store (name trimmed, blank website as none), or every rule they break (422)."""
    reject_nul("name", name)
    reject_nul("website", website)
    found: list[Violation] = []
    name = (name or "").strip()
    if not name:
        found.append(Violation("name", BLANK, NOT_BLANK))
    elif len(name) > MAX_NAME:
        found.append(Violation("name", too_long(MAX_NAME), TOO_LONG))
    website = (website or "").strip() or None
    if website is not None:
        if len(website) > MAX_WEBSITE:
            found.append(Violation("website", too_long(MAX_WEBSITE), TOO_LONG))
        elif not is_web_url(website):
            found.append(Violation("website", NOT_A_URL, INVALID_URL))
    if found:
        raise ConstraintViolations(found)
    return name, website
