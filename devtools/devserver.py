"""`accounts-service dev`: the whole service on one machine, starting local servers where none is set."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import uvicorn

from devtools.devinstance import announce_dev_instance
from service.accounts.keyring import load_cipher
from service.app import create_app
from service.db.migrate import migrate
from service.events.relay import relay_alongside
from service.integrations.catalog import load_catalog
from service.observability.logs import configure_logging, logging_config
from service.settings import Settings, load_settings
from service.web.edge import server_options
from service.webhooks.dispatcher import dispatcher_alongside

Say = Callable[[str], None]


def run_dev(say: Say, *, demo: bool = False) -> int:
    """Start what is missing, migrate, serve until Ctrl-C, then stop what was started."""
    data_dir = Path(os.environ.get("DEV_DATA_DIR", ".dev")).resolve()
    with ExitStack() as started:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = _start_postgres(data_dir, started, say)
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = _start_kafka(data_dir, started, say)
        if not os.environ.get("JWT_PRIVATE_KEY") and not os.environ.get("JWT_SECRET"):
            os.environ["JWT_PRIVATE_KEY"] = str(_dev_signing_key(data_dir, say))
        if not os.environ.get("CREDENTIALS_KEYS"):
            os.environ["CREDENTIALS_KEYS"] = _dev_credentials_keys(data_dir, say)
        # A developer points webhooks at a local http receiver; `api` allows that only when told to.
        os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE_URLS", "true")
        settings = load_settings()
        load_catalog(settings)
        configure_logging(settings.log_level, settings.log_format)
        asyncio.run(migrate(settings.database_url, report=say))
        _print_summary(settings, say)
        announce_dev_instance(settings, data_dir, started, say, demo=demo)
        asyncio.run(_serve(settings))
        say("stopping…")
    return 0


def _dev_signing_key(data_dir: Path, say: Say) -> Path:
    """A key pair kept with the dev data, so tokens stay valid across restarts."""
    from service.auth.keys import ensure_private_key_file

    path = data_dir / "jwt-private.pem"
    if not path.exists():
        say(f"generating a token signing key in {path} (for local use only)")
    return ensure_private_key_file(path)


def _dev_credentials_keys(data_dir: Path, say: Say) -> str:
    """A credential key kept with the dev data, so stored credentials stay readable across restarts."""
    from service.crypto import new_key_ring_entry

    path = data_dir / "credentials-keys"
    if not path.exists():
        say(f"generating a credential encryption key in {path} (for local use only)")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key_ring_entry("dev1"))
    return path.read_text().strip()


def _start_postgres(data_dir: Path, started: ExitStack, say: Say) -> str:
    from devtools.postgres import LocalPostgres

    server = LocalPostgres(data_dir / "postgres")
    say(f"starting PostgreSQL in {server.data_dir} …")
    dsn = server.start()
    started.callback(server.stop)
    return dsn


def _start_kafka(data_dir: Path, started: ExitStack, say: Say) -> str:
    from devtools.kafka import LocalKafka, java_available

    if not java_available():
        say("Java was not found: running without Kafka; events wait in the outbox until a broker is set")
        return ""
    port = int(os.environ.get("DEV_KAFKA_PORT", "9092"))
    broker = LocalKafka(data_dir / "kafka", port=port, progress=say)
    say(f"starting Kafka on 127.0.0.1:{port} …")
    bootstrap = broker.start()
    started.callback(broker.stop)
    return bootstrap


def _print_summary(settings: Settings, say: Say) -> None:
    base = f"http://{settings.host}:{settings.port}"
    say("")
    say(f"  API         {base}/api")
    say(f"  API docs    {base}/api/docs")
    say(f"  readiness   {base}/readyz")
    say(f"  PostgreSQL  {settings.database_url}")
    say(f"  Kafka       {settings.kafka_bootstrap_servers or 'not configured (events stay in the outbox)'}")
    if settings.kafka_enabled:
        say(f"  events      relay publishes to {settings.kafka_events_topic}, {settings.kafka_state_topic}")
    say("  webhooks    dispatcher running; http and local receiver URLs allowed")
    say("  Ctrl-C stops everything started here.")
    say("")


async def _serve(settings: Settings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level, settings.log_format),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
        **server_options(settings),
    )
    async with relay_alongside(settings), dispatcher_alongside(settings, load_cipher(settings)):
        await uvicorn.Server(config).serve()
