"""The composition root: builds the Litestar application from settings, or from what a caller injects."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service import __version__
from service.accounts.keyring import load_cipher
from service.accounts.routes import AccountController
from service.accounts.usecases import Accounts
from service.accounts.vocabulary import ACCOUNT, ACCOUNT_CREDENTIALS
from service.auth import routes as auth_routes
from service.auth.api_keys import principal_for_api_key
from service.auth.guards import provide_principal
from service.auth.login import Sessions
from service.auth.middleware import authentication_middleware
from service.auth.passwords import Passwords
from service.auth.principal import Principal
from service.auth.revocation_feed import RevocationFeed
from service.auth.tokens import TokenService
from service.clients.routes import ClientController
from service.clients.store import Clients
from service.clients.vocabulary import CLIENT
from service.crypto import CredentialCipher
from service.db.pool import Database
from service.events.probe import KafkaProbe
from service.integrations.catalog import load_catalog
from service.integrations.routes import IntegrationController
from service.integrations.vocabulary import INTEGRATION
from service.observability.logs import skip_unused_record_fields
from service.observability.operations import Operations
from service.organizations.directory import OriginDirectory
from service.organizations.routes import OrganizationController
from service.organizations.store import Organizations
from service.organizations.vocabulary import ORGANIZATION
from service.settings import Settings, load_settings
from service.web import health
from service.web.cors import CorsMiddleware
from service.web.discovery import discovery_handlers
from service.web.docs_ui import OfflineSwaggerPlugin
from service.web.linked_data import LinkedResource
from service.web.openapi_rebased import RebasedOpenAPIPlugin
from service.web.problems import exception_handlers
from service.web.semantics import HttpSemantics
from service.webhooks.delivery_routes import WebhookDeliveryController
from service.webhooks.openapi import webhooks_section
from service.webhooks.routes import WebhookEndpointController
from service.webhooks.usecases import Webhooks
from service.webhooks.vocabulary import WEBHOOK_DELIVERY, WEBHOOK_ENDPOINT

# Large enough for any account with its credentials and capped settings/metadata; larger is 413.
MAX_BODY_BYTES = 256 * 1024
TITLE = "Accounts API"
DESCRIPTION = "Connected accounts (WhatsApp numbers, LinkedIn logins, …) of every client."
# Every resource the API serves: the entrypoint, the JSON-LD contexts and the Hydra documentation are
# derived from this list, so a new resource is described by adding its LinkedResource here.
LINKED_RESOURCES: tuple[LinkedResource, ...] = (
    ACCOUNT,
    ACCOUNT_CREDENTIALS,
    CLIENT,
    INTEGRATION,
    ORGANIZATION,
    WEBHOOK_ENDPOINT,
    WEBHOOK_DELIVERY,
)
# Bodies carrying secrets are never compressed: with input reflected next to them, sizes leak (BREACH).
UNCOMPRESSED = [
    "^/authentication/",
    "^/api/tokens$",
    "/credentials$",
    "^/api/webhook_endpoints$",
    "/rotate_secret$",
]


def _constant(value: object) -> Provide:
    """A dependency that is always `value`, built once by `create_app`."""

    def dependency() -> object:
        return value

    return Provide(dependency, sync_to_thread=False, use_cache=True)


def _lifespan(database: Database) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Open the database for the app's run and close it after, unless the caller opened it already."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        opened = not database.is_open
        await database.open()
        # What start-up built (routes, schemas, modules) lives as long as the process: leave it out of
        # every garbage collection from now on, which would otherwise walk it again and again.
        gc.freeze()
        try:
            yield
        finally:
            if opened:
                await database.close()

    return lifespan


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    tokens: TokenService | None = None,
    cipher: CredentialCipher | None = None,
    clock: Callable[[], float] | None = None,
    handle_signals: bool = False,
) -> Litestar:
    """Build the application from settings; what is not injected is built from them.

    An injected database that is not open yet is opened when the app starts and closed when it stops;
    one already open stays open for its owner.
    """
    operations = Operations(settings, handle_signals=handle_signals)
    database = database or Database.from_settings(settings)
    tokens = tokens or TokenService.from_settings(settings, clock=clock or time.time)
    # The feed keeps the tokens' revocation list current (an injected TokenService's included).
    revocations = RevocationFeed(
        settings.database_url, tokens.revocations, settings.revocation_refresh_seconds
    )
    passwords = Passwords.from_settings(settings)
    catalog = load_catalog(settings)
    cipher = cipher or load_cipher(settings)
    accounts = Accounts(
        catalog, cipher, database, pagination_max_offset=settings.pagination_max_offset
    )
    webhooks = Webhooks(
        cipher,
        database,
        allow_private=settings.webhooks_allow_private_urls,
        overlap=settings.webhooks_secret_overlap_seconds,
    )
    kafka_probe = (
        KafkaProbe(settings.kafka_bootstrap_servers, settings.kafka_probe_timeout)
        if settings.kafka_enabled
        else None
    )
    organizations = Organizations(database)
    origins = OriginDirectory(settings.cors_origins_refresh_seconds)

    async def api_key_principal(key: str) -> Principal | None:
        return await principal_for_api_key(database, key)

    app = Litestar(
        route_handlers=[
            health.healthz,
            health.readyz,
            *operations.route_handlers,
            *auth_routes.route_handlers,
            AccountController,
            IntegrationController,
            ClientController,
            OrganizationController,
            *discovery_handlers(LINKED_RESOURCES, TITLE, DESCRIPTION),
            WebhookEndpointController,
            WebhookDeliveryController,
        ],
        dependencies={
            "db": _constant(database),
            "kafka_probe": _constant(kafka_probe),
            "drain": _constant(operations.drain),
            "sessions": _constant(Sessions(database, passwords, tokens, settings)),
            "accounts": _constant(accounts),
            "catalog": _constant(catalog),
            "clients": _constant(Clients(database)),
            "organizations": _constant(organizations),
            "webhooks": _constant(webhooks),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "origin_directory": _constant(origins),
        },
        lifespan=[
            _lifespan(database),
            revocations.lifespan,
            lambda _: origins.refreshing(organizations),
            operations.lifespan,
        ],
        plugins=operations.plugins,
        # Logging is configured once per process (service.observability.logs), not by the framework.
        logging_config=None,
        middleware=[authentication_middleware(tokens, api_key_principal)],
        exception_handlers=exception_handlers,
        request_max_body_size=MAX_BODY_BYTES,
        compression_config=CompressionConfig(
            backend="brotli", brotli_gzip_fallback=True, minimum_size=1024, exclude=UNCOMPRESSED
        ),
        openapi_config=OpenAPIConfig(
            title=TITLE,
            version=__version__,
            description=DESCRIPTION,
            path="/api/docs",
            components=Components(
                security_schemes={
                    "JWT": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="JWT token authentication (login via /authentication/login_check)",
                    ),
                    "ApiKey": SecurityScheme(
                        type="apiKey",
                        name="X-API-KEY",
                        security_scheme_in="header",
                        description="An organization's API key (acts as its owner); mints customer tokens",
                    ),
                }
            ),
            # Served with the app's own assets: the docs render offline (no CDN). The rebased document
            # is for clients that resolve every path against the first server (api-doc-parser).
            render_plugins=[OfflineSwaggerPlugin(), RebasedOpenAPIPlugin()],
            webhooks=dict(webhooks_section()),
        ),
        debug=False,
    )
    app.asgi_handler = HttpSemantics(app.asgi_handler)
    # Around the whole app: preflights and unmatched paths get their CORS answer too.
    app.asgi_handler = CorsMiddleware(app.asgi_handler, origins.organizations_allowing)
    return operations.instrument(app)


def create_app_from_environment() -> Litestar:
    """Factory for ASGI servers: settings come from the environment (logging from the server's config)."""
    skip_unused_record_fields()
    return create_app(load_settings(), handle_signals=True)
