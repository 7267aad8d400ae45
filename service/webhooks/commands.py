"""The `webhooks` subcommand of `accounts-service`: run the dispatcher (one active per database)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from service.accounts.keyring import load_cipher
from service.observability.logs import configure_logging
from service.settings import load_settings
from service.webhooks.dispatcher import Dispatcher


def register(commands: Any) -> None:
    """Add the subcommand to the `accounts-service` parser (`commands` is its subparsers object)."""
    summary = "deliver webhooks from the outbox (one active dispatcher per database; others wait as standby)"
    parser = commands.add_parser("webhooks", help=summary, description=summary)
    parser.set_defaults(handler=cmd_webhooks)


def cmd_webhooks(_: argparse.Namespace) -> int:
    settings = load_settings()
    cipher = load_cipher(settings)
    configure_logging(settings.log_level, settings.log_format)
    if settings.webhooks_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.webhooks_metrics_port, addr=settings.host)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Dispatcher(settings, cipher).run(stop)

    # uvloop's event loop and transports cost less per request than asyncio's (the dispatcher is
    # bound by its event loop); asyncio's own loop where uvloop is not installed.
    try:
        import uvloop
    except ImportError:
        asyncio.run(runner())
    else:
        uvloop.run(runner())
    return 0
