"""ORM models mapped onto the service's own tables (the migrations define them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        str: Text,
    }


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID]
    name: Mapped[str]


class Account(Base):
    __tablename__ = "accounts"
    # Server-side defaults (version, created_at) come back with the INSERT's RETURNING.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id"))
    integration: Mapped[str]
    provider: Mapped[str]
    type: Mapped[str]
    name: Mapped[str]
    headline: Mapped[str | None]
    avatar: Mapped[str | None]
    external_id: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default=text("'connecting'"))
    status_reason: Mapped[str | None]
    settings: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    # `metadata` is taken by the declarative base.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    credentials_key_id: Mapped[str | None]
    version: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class OutboxEvent(Base):
    __tablename__ = "outbox"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str]
    account_id: Mapped[uuid.UUID]
    organization_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    account_version: Mapped[int]
    payload: Mapped[dict[str, Any]]
