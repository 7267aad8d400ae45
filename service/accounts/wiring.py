"""Builds the accounts and integrations routes, with the key ring and catalog they need, from settings."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Router
from litestar.di import Provide

from service.accounts.routes import AccountController
from service.accounts.usecases import Accounts
from service.crypto import CredentialCipher
from service.db.pool import Database
from service.integrations.catalog import load_catalog
from service.integrations.routes import IntegrationController
from service.settings import Settings, SettingsError


def load_cipher(settings: Settings) -> CredentialCipher:
    """The credential key ring; without one, credentials cannot be stored and the service must not start."""
    if not settings.credentials_keys.strip():
        raise SettingsError(
            "CREDENTIALS_KEYS is required but not set; `accounts-service dev` generates a key for local use"
        )
    return CredentialCipher.from_text(settings.credentials_keys)


def accounts_router(settings: Settings, database: Callable[[], Database]) -> Router:
    """`/api/accounts` and `/api/integrations`, sharing one catalog; `database` is the open pool."""
    catalog = load_catalog(settings)
    accounts = Accounts(catalog, load_cipher(settings), database)
    return Router(
        path="/",
        route_handlers=[AccountController, IntegrationController],
        dependencies={
            "accounts": Provide(lambda: accounts, sync_to_thread=False, use_cache=True),
            "catalog": Provide(lambda: catalog, sync_to_thread=False, use_cache=True),
        },
    )
