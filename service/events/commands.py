"""The `relay` and `worker-example` subcommands of `accounts-service`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from service.events import metrics, worker_metrics
from service.events.fleet_example import run_member
from service.events.metrics import RelayStats
from service.events.relay import run_relay
from service.events.store import OutboxStore
from service.events.worker_example import run_worker
from service.events.worker_metrics import WorkerStats
from service.observability.logs import configure_logging
from service.settings import Settings, SettingsError, load_settings


def register(commands: Any) -> None:
    """Add the subcommands to the `accounts-service` parser (`commands` is its subparsers object)."""
    summary = "publish the outbox to Kafka (one active relay per database; others wait as standby)"
    relay = commands.add_parser("relay", help=summary, description=summary)
    parked = relay.add_mutually_exclusive_group()
    parked.add_argument(
        "--retry-parked", action="store_true", help="put parked events back in line, then exit"
    )
    parked.add_argument(
        "--discard-parked",
        action="store_true",
        help="give up on parked events so their accounts' later events flow, then exit",
    )
    relay.set_defaults(handler=cmd_relay)

    summary = "example inbox worker: print the accounts it would poll, then every change"
    worker = commands.add_parser("worker-example", help=summary, description=summary)
    worker.add_argument(
        "--group",
        help="join this worker pool (consumer group): own a share of the accounts; "
        "without it, read every account",
    )
    worker.add_argument(
        "--integration", action="append", default=[], metavar="SLUG", help="take only these (repeatable)"
    )
    worker.add_argument(
        "--provider", action="append", default=[], metavar="NAME", help="take only these (repeatable)"
    )
    worker.add_argument("--json", action="store_true", help="with --group: one JSON object per line")
    worker.add_argument(
        "--exit-after-bootstrap", action="store_true", help="print the live accounts, then exit"
    )
    worker.set_defaults(handler=cmd_worker_example)


def _say(message: str) -> None:
    print(message, flush=True)


def _kafka_settings() -> Settings:
    settings = load_settings()
    if not settings.kafka_enabled:
        raise SettingsError("KAFKA_BOOTSTRAP_SERVERS is required but not set")
    return settings


def cmd_relay(args: argparse.Namespace) -> int:
    if args.retry_parked or args.discard_parked:
        asyncio.run(_parked(load_settings(), retry=args.retry_parked))
        return 0
    settings = _kafka_settings()
    configure_logging(settings.log_level, settings.log_format)
    stats = RelayStats()
    if settings.relay_metrics_port and not metrics.serve(stats, settings.host, settings.relay_metrics_port):
        print("prometheus-client is not installed: no metrics endpoint", file=sys.stderr)
    _run_until_signalled(lambda stop: run_relay(settings, stop, stats))
    return 0


async def _parked(settings: Settings, *, retry: bool) -> None:
    connection = await asyncpg.connect(settings.database_url)
    try:
        store = OutboxStore(connection)
        if retry:
            print(f"{await store.retry_parked()} parked events put back in line", file=sys.stderr)
            return
        dropped = await store.discard_parked()
        for line in dropped:
            print(f"discarded {line}", file=sys.stderr)
        print(f"{len(dropped)} parked events discarded", file=sys.stderr)
    finally:
        await connection.close()


def cmd_worker_example(args: argparse.Namespace) -> int:
    settings = _kafka_settings()
    if args.group:
        return _fleet_member(settings, args)
    follow = not args.exit_after_bootstrap
    _run_until_signalled(lambda stop: run_worker(settings, _say, stop, follow=follow, group_id=args.group))
    return 0


def _fleet_member(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging(settings.log_level, settings.log_format)
    stats = WorkerStats()
    port = settings.worker_metrics_port
    if port and not worker_metrics.serve(stats, settings.host, port):
        print("prometheus-client is not installed: no metrics endpoint", file=sys.stderr)
    _run_until_signalled(
        lambda stop: run_member(
            settings,
            _say,
            stop,
            group=args.group,
            integrations=args.integration,
            providers=args.provider,
            as_json=args.json,
            stats=stats,
        )
    )
    return 0


def _run_until_signalled(main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run `main(stop)`; SIGINT or SIGTERM sets `stop` so it can finish cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
