"""The `accounts-service` command: one entry point for every role the service plays."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence

from service.db.migrate import MigrationError, migrate
from service.events.commands import register as register_event_commands
from service.provisioning import register as register_provisioning_commands
from service.settings import Settings, SettingsError, load_settings
from service.webhooks.commands import register as register_webhook_commands

Command = Callable[[argparse.Namespace], int]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_migrations(settings: Settings) -> None:
    applied = asyncio.run(migrate(settings.database_url, report=_say))
    _say(f"migrations: {len(applied)} applied, database is up to date")


def cmd_migrate(_: argparse.Namespace) -> int:
    run_migrations(load_settings())
    return 0


def cmd_api(_: argparse.Namespace) -> int:
    import uvicorn

    from service.accounts.keyring import load_cipher
    from service.auth.keys import load_signing_keys
    from service.integrations.catalog import load_catalog
    from service.observability.logs import logging_config
    from service.observability.tracing import require_tracing_extra
    from service.web.edge import server_options, worker_count

    settings = load_settings()
    # Fail here with one clear line, not inside every worker process uvicorn starts.
    load_catalog(settings)
    load_signing_keys(settings)
    load_cipher(settings)
    require_tracing_extra(settings)
    uvicorn.run(
        "service.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=worker_count(settings),
        log_config=logging_config(settings.log_level, settings.log_format),
        log_level=settings.log_level.lower(),
        # The protocol with the request head limits, keep-alive, and the trusted proxies.
        **server_options(settings),
        # In-flight requests get this long after the listener closes; then the pool is closed.
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    try:
        from devtools.devserver import run_dev
    except ModuleNotFoundError as exc:
        if exc.name != "devtools":
            raise
        # The dev tooling is not part of the production package.
        _say("`dev` runs from a source checkout installed with `pip install -e '.[local]'`")
        return 2
    return run_dev(_say, demo=args.demo)


def _apply_dev_state() -> None:
    """Commands run beside `accounts-service dev` find its database and keys without any export; an
    installation without the dev tooling has no dev instance to find."""
    try:
        from devtools.devstate import apply_dev_state
    except ModuleNotFoundError as exc:
        if exc.name != "devtools":
            raise
        return
    apply_dev_state(os.environ, _say)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accounts-service",
        description="Connected accounts of an embedded-inbox platform.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, summary in [
        ("dev", cmd_dev, "run everything locally, starting PostgreSQL and Kafka when none is configured"),
        ("api", cmd_api, "serve the HTTP API (production entry point)"),
        ("migrate", cmd_migrate, "apply pending database migrations"),
    ]:
        commands.add_parser(name, help=summary, description=summary).set_defaults(handler=handler)
    commands.choices["dev"].add_argument(
        "--demo", action="store_true", help="also create a demo organization, owner and client; print a curl"
    )
    register_event_commands(commands)
    register_provisioning_commands(commands)
    register_webhook_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    if args.command not in {"dev", "api"}:
        _apply_dev_state()
    try:
        return handler(args)
    except SettingsError as exc:
        _say(f"configuration error: {exc}")
        return 2
    except MigrationError as exc:
        _say(f"migration error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
