"""Builds the webhook endpoint routes, with the key ring that seals their secrets, from settings."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Router
from litestar.di import Provide

from service.accounts.wiring import load_cipher
from service.db.pool import Database
from service.settings import Settings
from service.webhooks.delivery_routes import WebhookDeliveryController
from service.webhooks.routes import WebhookEndpointController
from service.webhooks.usecases import Webhooks


def webhooks_router(settings: Settings, database: Callable[[], Database]) -> Router:
    """`/api/webhook_endpoints`; `database` is the open pool."""
    webhooks = Webhooks(
        load_cipher(settings),
        database,
        allow_private=settings.webhooks_allow_private_urls,
        overlap=settings.webhooks_secret_overlap_seconds,
    )
    return Router(
        path="/",
        route_handlers=[WebhookEndpointController, WebhookDeliveryController],
        dependencies={"webhooks": Provide(lambda: webhooks, sync_to_thread=False, use_cache=True)},
    )
