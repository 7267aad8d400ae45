"""Request bodies (decoded strictly: unknown and read-only fields are 400) and documented response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from service.integrations.catalog import INTEGRATIONS, IRI_PREFIX
from service.web.constraints import HTTPS_URL_PATTERN, NOT_BLANK_PATTERN
from service.web.iri import CLIENT_IRI_PATTERN

Status = Literal["connecting", "connected", "disconnected", "error", "paused"]

_NAME = Meta(description="Display name of the account (1 to 255 characters).")
_HEADLINE = Meta(description="Short description shown under the name (at most 255 characters).")
_AVATAR = Meta(description="https URL of the avatar picture (at most 2048 characters); never fetched.")
_INTEGRATION = Meta(description='Integration slug or IRI, e.g. "whatsapp" or "/api/integrations/whatsapp".')
_CLIENT = Meta(
    description='IRI of the client, "/api/clients/{id}": required for owners, implied for customers.'
)
_EXTERNAL_ID = Meta(
    description="Provider-side identity (phone number, profile URN, e-mail), at most 255 characters; "
    "unique per client and integration among live accounts."
)
_SETTINGS = Meta(description="Access settings, a JSON object of at most 16 KiB encoded.")
_METADATA = Meta(description="Free-form JSON object of at most 16 KiB encoded.")
_CREDENTIALS = Meta(
    description="Write-only: the integration's credential fields (see /api/integrations), strings of at "
    "most 4096 characters. Stored encrypted, never returned."
)
_STATUS_CREATE = Meta(description='Optional; only "paused" may be given, to create the account paused.')
_STATUS_PATCH = Meta(
    description='Owners and customers: "paused" to pause, "connecting" to resume a paused account. '
    "Workers: connecting, connected, disconnected or error."
)
_STATUS_REASON = Meta(description="Workers only: why the status changed (at most 1000 characters).")


_AVATAR_RULE = Meta(max_length=2048, pattern=HTTPS_URL_PATTERN, description=_AVATAR.description)
_CLIENT_RULE = Meta(pattern=CLIENT_IRI_PATTERN, description=_CLIENT.description)
_NAME_RULE = Meta(min_length=1, max_length=255, pattern=NOT_BLANK_PATTERN, description=_NAME.description)
_EXTERNAL_ID_RULE = Meta(max_length=255, pattern=NOT_BLANK_PATTERN, description=_EXTERNAL_ID.description)
_REASON_RULE = Meta(max_length=1000, description=_STATUS_REASON.description)
# Every integration by slug and by IRI; one that is not available for new accounts is a 422.
if TYPE_CHECKING:
    IntegrationReference = str
else:
    IntegrationReference = Literal[
        tuple(name for item in INTEGRATIONS for name in (item.slug, IRI_PREFIX + item.slug))
    ]


class AccountWrite(msgspec.Struct, kw_only=True, rename="camel"):
    """The body of POST /api/accounts, as documented; no other field is accepted (400)."""

    name: Annotated[str, _NAME_RULE]
    headline: Annotated[str, Meta(max_length=255)] | None = None
    avatar: Annotated[str, _AVATAR_RULE] | None = None
    integration: Annotated[IntegrationReference, _INTEGRATION]
    client: Annotated[str, _CLIENT_RULE] | UnsetType = UNSET
    external_id: Annotated[str, _EXTERNAL_ID_RULE] | None = None
    settings: Annotated[dict[str, Any], _SETTINGS] | None = None
    metadata: Annotated[dict[str, Any], _METADATA] | None = None
    credentials: Annotated[dict[str, Annotated[str, Meta(min_length=1, max_length=4096)]], _CREDENTIALS]
    status: Annotated[Literal["paused"], _STATUS_CREATE] | UnsetType = UNSET


class AccountCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """POST /api/accounts as decoded: required fields are optional here so that their absence is reported
    as a violation (422), like API Platform does."""

    __openapi__: ClassVar[type] = AccountWrite

    name: Annotated[str | None, _NAME] = None
    headline: Annotated[str | None, _HEADLINE] = None
    avatar: Annotated[str | None, _AVATAR] = None
    integration: Annotated[str | None, _INTEGRATION] = None
    client: Annotated[str | None, _CLIENT] = None
    external_id: Annotated[str | None, _EXTERNAL_ID] = None
    settings: Annotated[dict[str, Any] | None, _SETTINGS] = None
    metadata: Annotated[dict[str, Any] | None, _METADATA] = None
    credentials: Annotated[dict[str, str] | None, _CREDENTIALS] = None
    status: Annotated[str | None, _STATUS_CREATE] = None


class AccountChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """The body of PATCH /api/accounts/{id}, as documented."""

    name: Annotated[str, _NAME_RULE] | UnsetType = UNSET
    headline: Annotated[str, Meta(max_length=255)] | UnsetType | None = UNSET
    avatar: Annotated[str, _AVATAR_RULE] | UnsetType | None = UNSET
    external_id: Annotated[str, _EXTERNAL_ID_RULE] | UnsetType | None = UNSET
    settings: Annotated[dict[str, Any], _SETTINGS] | UnsetType | None = UNSET
    metadata: Annotated[dict[str, Any], _METADATA] | UnsetType | None = UNSET
    credentials: (
        Annotated[dict[str, Annotated[str, Meta(min_length=1, max_length=4096)]], _CREDENTIALS] | UnsetType
    ) = UNSET
    status: Annotated[Status, _STATUS_PATCH] | UnsetType = UNSET
    status_reason: Annotated[str, _REASON_RULE] | UnsetType | None = UNSET


class AccountPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """PATCH /api/accounts/{id} as JSON merge patch: absent keeps a field, null removes an optional one."""

    __openapi__: ClassVar[type] = AccountChange

    name: Annotated[str | UnsetType, _NAME] = UNSET
    headline: Annotated[str | UnsetType | None, _HEADLINE] = UNSET
    avatar: Annotated[str | UnsetType | None, _AVATAR] = UNSET
    external_id: Annotated[str | UnsetType | None, _EXTERNAL_ID] = UNSET
    settings: Annotated[dict[str, Any] | UnsetType | None, _SETTINGS] = UNSET
    metadata: Annotated[dict[str, Any] | UnsetType | None, _METADATA] = UNSET
    credentials: Annotated[dict[str, str] | UnsetType, _CREDENTIALS] = UNSET
    status: Annotated[str | UnsetType, _STATUS_PATCH] = UNSET
    status_reason: Annotated[str | UnsetType | None, _STATUS_REASON] = UNSET


class StatusReport(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """The PATCH a worker may send: every other field is read-only for workers."""

    status: str | UnsetType = UNSET
    status_reason: str | UnsetType | None = UNSET


# Response shapes, for the OpenAPI document only: handlers build and encode plain dicts.


class Account(msgspec.Struct, kw_only=True, rename="camel"):
    """A connected account, as `application/json` shows it (JSON-LD adds @context, @id and @type)."""

    id: str
    name: str
    headline: str | None
    avatar: str | None
    provider: str
    type: str
    integration: Annotated[str, Meta(description="IRI of the integration")]
    external_id: str | None
    client: Annotated[str, Meta(description="IRI of the client")]
    status: Status
    status_reason: str | None
    settings: dict[str, Any]
    metadata: dict[str, Any]
    version: Annotated[int, Meta(description="Increases by one on every change; the ETag is W/\"version\"")]
    created_at: Annotated[datetime, Meta(description="RFC 3339, e.g. 2025-03-27T15:00:49+00:00")]
    updated_at: datetime | None


class AccountCredentials(msgspec.Struct):
    """The decrypted credentials of an account (workers only)."""

    credentials: dict[str, str]
