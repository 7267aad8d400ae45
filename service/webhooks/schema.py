"""Webhook endpoint request bodies and their rules, reported like Symfony's validator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

import msgspec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema

from service.errors import ConstraintViolations, Violation
from service.web.constraints import (
    BLANK,
    INVALID_CHOICE,
    INVALID_URL,
    NO_SUCH_CHOICE,
    NOT_A_URL,
    NOT_BLANK,
    TOO_LONG,
    is_web_url,
    reject_nul,
    too_long,
)
from service.web.iri import CLIENT_IRI_PATTERN
from service.webhooks.addresses import host_refusal, literal_address

EVENT_TYPES = ("account.connected", "account.updated", "account.removed")
ALL_EVENTS = "*"
MAX_URL = 2048
MAX_DESCRIPTION = 1024
MAX_CLIENTS = 100
# Symfony's code for a collection with too few elements (Count constraint).
TOO_FEW = "bef8e338-6ae5-4caf-b8e2-50e7b0579e69"
_TOP_LEVEL = re.compile(r"\.[A-Za-z]{2,63}\.?$")

EventList = Annotated[list[str], msgspec.Meta(max_length=len(EVENT_TYPES) + 1)]
ClientList = Annotated[list[str], msgspec.Meta(max_length=MAX_CLIENTS)]

# How the document states the rules `validated` applies (a subset where a rule needs more than a schema:
# the named host must also not be a local name, and the clients must be the organization's own).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_NAMES = "|".join(
    "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)
    for name in ("localhost", "local", "internal", "home.arpa", "lan")
)
_LOCAL = rf"(?![^/?]*\.(?:{_LOCAL_NAMES})(?:[:/?]|$))"
_REST = r"(?::[0-9]{1,4})?(?:[/?][^\s\x00-\x1f\x7f<>\"\\^`{|}#]*)?"
PUBLIC_HTTPS_URL_PATTERN = rf"^https://{_LOCAL}(?:{_LABEL}\.)+[A-Za-z]{{2,63}}{_REST}(?![\s\S])"
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL,
        pattern=PUBLIC_HTTPS_URL_PATTERN,
        description="An https URL on a public DNS name, without credentials or fragment; never fetched here",
    ),
]
EventChoice = Literal["account.connected", "account.updated", "account.removed", "*"]
Events = Annotated[
    list[EventChoice],
    msgspec.Meta(
        min_length=1, max_length=len(EVENT_TYPES) + 1, description="Event types to send; `*`: every type"
    ),
]
# The item rule goes in `extra`: Litestar drops the metadata of a list's item type.
_CLIENT_ITEM = Schema(type=OpenAPIType.STRING, pattern=CLIENT_IRI_PATTERN)
Clients = Annotated[
    list[str],
    msgspec.Meta(
        min_length=1,
        max_length=MAX_CLIENTS,
        description="IRIs of the organization's clients; null: every client",
        extra_json_schema={"extra": {"items": _CLIENT_ITEM}},
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION, description="Blank is none")]


class EndpointWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/webhook_endpoints as documented: what `validated` accepts, as a schema."""

    url: Url
    events: Events
    clients: Clients | None = None
    description: Description | None = None
    enabled: bool = True


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True):
    """The body of PATCH /api/webhook_endpoints/{id} as documented."""

    url: Url | msgspec.UnsetType = msgspec.UNSET
    events: Events | msgspec.UnsetType = msgspec.UNSET
    clients: Clients | msgspec.UnsetType | None = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True):
    """As decoded: missing or empty fields are reported as violations (422), like API Platform does."""

    __openapi__: ClassVar[type] = EndpointWrite

    url: str | None = None
    events: EventList | None = None
    clients: ClientList | None = None
    description: str | None = None
    enabled: bool = True


class EndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    """A merge patch: absent keeps a field; `clients: null` means every client, `description: null` none."""

    __openapi__: ClassVar[type] = EndpointChange

    url: str | msgspec.UnsetType = msgspec.UNSET
    events: EventList | msgspec.UnsetType = msgspec.UNSET
    clients: ClientList | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


# RFC 3339 as the decoder reads it: with an offset, never year 0000 nor a leap second (it refuses both).
_SINCE_PATTERN = (
    r"^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})(?![\s\S])"
)


class ReplayWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST …/replay as documented."""

    since: Annotated[
        str,
        msgspec.Meta(
            pattern=_SINCE_PATTERN,
            description="RFC 3339 with offset",
            extra_json_schema={"extra": {"format": OpenAPIFormat.DATE_TIME}},
        ),
    ]


class ReplayRequest(msgspec.Struct, forbid_unknown_fields=True):
    __openapi__: ClassVar[type] = ReplayWrite

    since: Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with offset")]


@dataclass(frozen=True, slots=True)
class EndpointFields:
    """Validated values, ready to store (clients still as IRIs, resolved by the use case)."""

    url: str
    events: list[str]
    clients: list[str] | None
    description: str | None
    enabled: bool


def validated(fields: EndpointFields, *, allow_private: bool) -> EndpointFields:
    """The values to store, or every rule they break (422)."""
    for path, value in [("url", fields.url), ("events", fields.events), ("clients", fields.clients)]:
        reject_nul(path, value)
    reject_nul("description", fields.description)
    found: list[Violation] = []
    url = (fields.url or "").strip()
    if problem := _url_problem(url, allow_private=allow_private):
        found.append(problem)
    events = list(dict.fromkeys(fields.events or []))
    if not events:
        found.append(Violation("events", "This collection should contain 1 element or more.", TOO_FEW))
    elif any(name not in (*EVENT_TYPES, ALL_EVENTS) for name in events):
        found.append(Violation("events", INVALID_CHOICE, NO_SUCH_CHOICE))
    if fields.clients is not None and not fields.clients:
        message = "This collection should contain 1 element or more (null: every client)."
        found.append(Violation("clients", message, TOO_FEW))
    description = (fields.description or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION:
        found.append(Violation("description", too_long(MAX_DESCRIPTION), TOO_LONG))
    if found:
        raise ConstraintViolations(found)
    clients = None if fields.clients is None else list(dict.fromkeys(fields.clients))
    events = [ALL_EVENTS] if ALL_EVENTS in events else events
    return EndpointFields(url, events, clients, description, fields.enabled)


def _url_problem(url: str, *, allow_private: bool) -> Violation | None:
    if not url:
        return Violation("url", BLANK, NOT_BLANK)
    if len(url) > MAX_URL:
        return Violation("url", too_long(MAX_URL), TOO_LONG)
    schemes = frozenset({"https", "http"} if allow_private else {"https"})
    if not is_web_url(url, schemes=schemes):
        message = NOT_A_URL if allow_private else "This value should be a public https URL."
        return Violation("url", message, INVALID_URL)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not allow_private and literal_address(host) is None and not _TOP_LEVEL.search(host):
        return Violation("url", "This value should be a public https URL.", INVALID_URL)
    if "@" in parts.netloc:
        return Violation("url", "This URL must not contain credentials.", INVALID_URL)
    if parts.fragment:
        return Violation("url", "This URL must not contain a fragment.", INVALID_URL)
    if not allow_private and (refusal := host_refusal(host)):
        return Violation("url", refusal, INVALID_URL)
    return None
