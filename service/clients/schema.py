"""Client request bodies and their rules, reported like Symfony's validator."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from service.errors import ConstraintViolations, Violation
from service.web.constraints import (
    BLANK,
    INVALID_URL,
    NOT_A_URL,
    NOT_BLANK,
    NOT_BLANK_PATTERN,
    TOO_LONG,
    TRIMMED_WEB_URL_PATTERN,
    is_web_url,
    reject_nul,
    too_long,
)

MAX_NAME = 255
MAX_WEBSITE = 2048

Name = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=NOT_BLANK_PATTERN, description="Not blank")
]
Website = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_WEBSITE, pattern=TRIMMED_WEB_URL_PATTERN, description="An http(s) URL; blank is none"
    ),
]


class ClientWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/clients as documented: what the rules below accept, stated as a schema."""

    name: Name
    website: Website | None = None


class ClientChange(msgspec.Struct, forbid_unknown_fields=True):
    """The body of PATCH /api/clients/{id} as documented."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    website: Website | msgspec.UnsetType | None = msgspec.UNSET


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True):
    """As decoded: a missing or null name is reported as a violation (422), like API Platform does."""

    __openapi__: ClassVar[type] = ClientWrite

    name: str | None = None
    website: str | None = None


class ClientPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A merge patch: absent fields stay as they are; `website: null` clears the website."""

    __openapi__: ClassVar[type] = ClientChange

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
