"""The peer's configuration: the service's own environment variables, read once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Request
from sqlalchemy.engine import URL, make_url

from service.accounts.keyring import load_cipher
from service.auth.keys import load_signing_keys
from service.crypto import CredentialCipher
from service.integrations.catalog import Catalog, load_catalog
from service.settings import load_settings


@dataclass(frozen=True, slots=True)
class Config:
    database_url: URL
    pool_size: int
    algorithm: str
    verifying_key: Any
    issuer: str
    audience: str
    catalog: Catalog
    cipher: CredentialCipher


def sqlalchemy_url(dsn: str) -> URL:
    """A libpq DSN (`postgresql://…`, socket directory and port in the query) for the asyncpg driver."""
    url = make_url(dsn).set(drivername="postgresql+asyncpg")
    query = dict(url.query)
    host, port = query.pop("host", None), query.pop("port", None)
    url = url.set(query=query)
    if host is not None:
        url = url.set(host=str(host))
    if port is not None:
        url = url.set(port=int(str(port)))
    return url


async def current_config(request: Request) -> Config:
    """The dependency: the configuration the app loaded at start-up (no thread-pool hop per request)."""
    config: Config = request.app.state.config
    return config


@lru_cache
def get_config() -> Config:
    settings = load_settings()
    keys = load_signing_keys(settings)
    return Config(
        database_url=sqlalchemy_url(settings.database_url),
        pool_size=settings.db_pool_max_size,
        algorithm=keys.algorithm,
        verifying_key=keys.verifying_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        catalog=load_catalog(settings),
        cipher=load_cipher(settings),
    )
