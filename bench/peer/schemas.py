"""Request and response bodies as pydantic models, with the service's validation rules."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bench.peer.config import get_config
from bench.peer.models import Account

MAX_JSON_BYTES = 16 * 1024
_url = TypeAdapter(HttpUrl)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("This value should not be blank.")
    return value


def _https_url(value: str) -> str:
    try:
        url = _url.validate_python(value)
    except ValidationError:
        raise ValueError("This value is not a valid URL.") from None
    if url.scheme != "https" or not url.host or "." not in url.host.strip("."):
        raise ValueError("This value is not a valid URL.")
    return value


def _small_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value, separators=(",", ":")).encode()) > MAX_JSON_BYTES:
        raise ValueError(f"This value is too long. It should have {MAX_JSON_BYTES} bytes or less.")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, Field(max_length=255), AfterValidator(_no_nul), AfterValidator(_not_blank)]
JsonObject = Annotated[dict[str, Any] | None, AfterValidator(_small_json)]
Credential = Annotated[str, Field(max_length=4096), AfterValidator(_no_nul), AfterValidator(_not_blank)]


class AccountCreate(BaseModel):
    """POST /api/accounts; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: Name
    headline: Annotated[Text, Field(max_length=255)] | None = None
    avatar: Annotated[Text, Field(max_length=2048), AfterValidator(_https_url)] | None = None
    integration: Text
    client: Text | None = None
    external_id: Name | None = None
    settings: JsonObject = None
    metadata: JsonObject = None
    credentials: dict[Text, Credential]
    status: Literal["paused"] | None = None

    @field_validator("integration")
    @classmethod
    def _available(cls, value: str) -> str:
        integration = get_config().catalog.resolve(value)
        if integration is None or not get_config().catalog.is_available(integration):
            raise ValueError("The value you selected is not a valid choice.")
        return integration.slug

    @model_validator(mode="after")
    def _credentials_fit(self) -> Self:
        """The integration's fields only, with one whole set of its required fields."""
        integration = get_config().catalog.get(self.integration)
        assert integration is not None
        unknown = set(self.credentials) - integration.field_names
        if unknown:
            raise ValueError(f"credentials: unexpected fields {', '.join(sorted(unknown))}")
        if not any(set(self.credentials).issuperset(option) for option in integration.required):
            raise ValueError("credentials: a required field is missing")
        return self


ApiTime = Annotated[
    datetime, PlainSerializer(lambda value: value.astimezone(UTC).isoformat(timespec="seconds"), str)
]


def _columns(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "headline": account.headline,
        "avatar": account.avatar,
        "provider": account.provider,
        "type": account.type,
        "integration": f"/api/integrations/{account.integration}",
        "external_id": account.external_id,
        "client": f"/api/clients/{account.client_id}",
        "status": account.status,
        "status_reason": account.status_reason,
        "settings": account.settings,
        "metadata": account.metadata_,
        "version": account.version,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


class LinkedData(BaseModel):
    """JSON-LD's keys, ahead of a resource's fields."""

    context: str = Field(serialization_alias="@context")
    iri: str = Field(serialization_alias="@id")
    ld_type: str = Field(serialization_alias="@type")


class AccountFields(BaseModel):
    """The account's plain read shape: what responses show and what events carry."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    name: str
    headline: str | None
    avatar: str | None
    provider: str
    type: str
    integration: str
    external_id: str | None
    client: str
    status: str
    status_reason: str | None
    settings: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    created_at: ApiTime
    updated_at: ApiTime | None

    @classmethod
    def of(cls, account: Account) -> Self:
        return cls(**_columns(account))


class AccountDocument(AccountFields, LinkedData):
    """An account as JSON-LD."""

    @classmethod
    def of(cls, account: Account) -> Self:
        return cls(
            context="/api/contexts/Account",
            iri=f"/api/accounts/{account.id}",
            ld_type="Account",
            **_columns(account),
        )
