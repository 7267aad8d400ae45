"""The integration document `/api/integrations` answers with, as the OpenAPI document describes it."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class CredentialField(msgspec.Struct):
    name: str
    label: str
    secret: Annotated[bool, Meta(description="Whether the value is a secret (password, token, cookie)")]


class Integration(msgspec.Struct, kw_only=True, rename="camel"):
    """A messaging network accounts connect to."""

    id: Annotated[str, Meta(description="The slug")]
    name: str
    provider: str
    type: str
    available: Annotated[bool, Meta(description="Whether new accounts may be connected to it")]
    credential_fields: list[CredentialField]
    required_credentials: Annotated[
        list[list[str]],
        Meta(description="Alternative sets of credential fields; one whole set must be given"),
    ]
