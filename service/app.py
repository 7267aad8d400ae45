"""The composition root: builds the Litestar application from settings and the resources it owns."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service import __version__
from service.accounts.vocabulary import ACCOUNT, ACCOUNT_CREDENTIALS
from service.accounts.wiring import accounts_router
from service.auth import routes as auth_routes
from service.auth.api_keys import principal_for_api_key
from service.auth.guards import provide_principal
from service.auth.middleware import authentication_middleware
from service.auth.passwords import Passwords
from service.auth.principal import Principal
from service.auth.revocation import RevocationList
from service.auth.revocation_feed import RevocationFeed
from service.auth.tokens import TokenService
from service.clients.routes import ClientController
from service.clients.vocabulary import CLIENT
from service.db.pool import Database, create_pool
from service.events.probe import KafkaProbe
from service.integrations.vocabulary import INTEGRATION
from service.logs import skip_unused_record_fields
from service.observability.operations import Operations
from service.organizations.directory import OriginDirectory
from service.organizations.routes import OrganizationController
from service.organizations.vocabulary import ORGANIZATION
from service.settings import Settings, load_settings
from service.web import health
from service.web.allow import complete_allow_header
from service.web.cors import CorsMiddleware
from service.web.discovery import discovery_handlers
from service.web.docs_ui import OfflineSwaggerPlugin
from service.web.headers import security_headers
from service.web.linked_data import LinkedResource
from service.web.problems import exception_handlers
from service.web.semantics import HttpSemantics
from service.webhooks.openapi import webhooks_section
from service.webhooks.vocabulary import WEBHOOK_DELIVERY, WEBHOOK_ENDPOINT
from service.webhooks.wiring import webhooks_router

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


class Resources:
    """What the running app holds open: filled at start-up, released at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db: Database | None = None
        self.kafka_probe = (
            KafkaProbe(settings.kafka_bootstrap_servers, settings.kafka_probe_timeout)
            if settings.kafka_enabled
            else None
        )

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database pool is not open")
        return self._db

    @asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        self._db = Database(await create_pool(self.settings), self.settings.db_acquire_timeout)
        # What start-up built (routes, schemas, modules) lives as long as the process: leave it out of
        # every garbage collection from now on, which would otherwise walk it again and again.
        gc.freeze()
        try:
            yield
        finally:
            await self._db.close()


def create_app(settings: Settings, *, handle_signals: bool = False) -> Litestar:
    """Wire settings, resources and routes into one application."""
    resources = Resources(settings)
    operations = Operations(settings, handle_signals=handle_signals)
    revocations = RevocationFeed(settings.database_url, RevocationList(), settings.revocation_refresh_seconds)
    tokens = TokenService.from_settings(settings, revocations=revocations.revocations)
    passwords = Passwords.from_settings(settings)
    origins = OriginDirectory(settings.cors_origins_refresh_seconds)

    async def api_key_principal(key: str) -> Principal | None:
        return await principal_for_api_key(resources.db, key)

    app = Litestar(
        route_handlers=[
            health.healthz,
            health.readyz,
            *operations.route_handlers,
            *auth_routes.route_handlers,
            accounts_router(settings, lambda: resources.db),
            ClientController,
            OrganizationController,
            *discovery_handlers(LINKED_RESOURCES, TITLE, DESCRIPTION),
            webhooks_router(settings, lambda: resources.db),
        ],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
            "db": Provide(lambda: resources.db, sync_to_thread=False),
            "kafka_probe": Provide(lambda: resources.kafka_probe, sync_to_thread=False, use_cache=True),
            "drain": Provide(lambda: operations.drain, sync_to_thread=False, use_cache=True),
            "tokens": Provide(lambda: tokens, sync_to_thread=False, use_cache=True),
            "passwords": Provide(lambda: passwords, sync_to_thread=False, use_cache=True),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "origin_directory": Provide(lambda: origins, sync_to_thread=False, use_cache=True),
        },
        lifespan=[
            resources.lifespan,
            revocations.lifespan,
            lambda _: origins.refreshing(lambda: resources.db),
            operations.lifespan,
        ],
        plugins=operations.plugins,
        # Logging is configured once per process (service.logs), not by the framework.
        logging_config=None,
        middleware=[authentication_middleware(tokens, api_key_principal)],
        exception_handlers=exception_handlers,
        before_send=[complete_allow_header, security_headers],
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
            # Served with the app's own assets: the docs render offline (no CDN).
            render_plugins=[OfflineSwaggerPlugin()],
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
