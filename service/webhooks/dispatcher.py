"""The webhook dispatcher: one active per database sends due deliveries, in order per endpoint and account."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from service.crypto import CredentialCipher
from service.events.waiting import first_of
from service.settings import Settings
from service.webhooks import metrics
from service.webhooks.message import Prepared, prepare
from service.webhooks.policy import Verdict, duration_text, next_delay, retry_after, verdict
from service.webhooks.sender import Sender
from service.webhooks.store import CHANNEL, DispatcherStore, Outcome, Row

log = logging.getLogger(__name__)

# Session-level advisory lock of the active dispatcher; unlike the relay's and the migrations'.
LOCK_KEY = 0x776562686F6F6B73
# Deliveries held at most (queued here, in flight, or done but not yet recorded), over every endpoint.
_MAX_HELD = 2000
_BATCH = 500
# Each endpoint keeps this many times its in-flight cap queued here, so a finished request is followed
# by the next at once, without waiting for the next database round.
_PREFETCH = 4
_RECONNECT_DELAY = 1.0
_STATS_INTERVAL = 5.0
_CLEANUP_INTERVAL = 60.0
_STOP_GRACE = 2.0
# A backlog this large in tables never analyzed is planned as if they were empty: analyze them first.
_ANALYZE_BACKLOG = 1000
GONE_REASON = "The endpoint answered 410 Gone."


class Dispatcher:
    """Waits as a standby until it holds the lock, then delivers until told to stop."""

    def __init__(self, settings: Settings, cipher: CredentialCipher) -> None:
        self._settings = settings
        self._cipher = cipher
        self._schedule = settings.webhook_retry_schedule
        self._cap = settings.webhooks_max_in_flight_per_endpoint
        self._wake = asyncio.Event()
        self._sender: Sender | None = None
        # Every delivery fetched and not yet recorded: the database still has it pending, which keeps
        # its account's later deliveries back, and the next fetch must not return it again.
        self._held: dict[uuid.UUID, Row] = {}
        self._queued: dict[uuid.UUID, deque[Row]] = defaultdict(deque)
        self._running: Counter[uuid.UUID] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[Outcome] = []
        self._secrets: dict[tuple[uuid.UUID, bytes], str] = {}
        self._analyzed = False
        self._reasons = (
            GONE_REASON,
            f"Every delivery failed for {duration_text(settings.webhooks_disable_after_seconds)}.",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Be the active dispatcher whenever possible until `stop` is set; a lost database is reconnected."""
        while not stop.is_set():
            try:
                await self._term(stop)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("webhook dispatcher lost the database; reconnecting", extra={"error": str(exc)})
            except Exception:
                log.exception("webhook dispatcher failed; starting over")
            finally:
                metrics.ACTIVE.set(0)
            await _sleep(stop, _RECONNECT_DELAY)

    async def _term(self, stop: asyncio.Event) -> None:
        silence = int(10 * self._settings.webhooks_poll_interval) + 30
        connection = await asyncpg.connect(
            self._settings.database_url,
            timeout=10,
            command_timeout=30,
            server_settings={
                "application_name": "accounts-webhooks",
                "tcp_keepalives_idle": "15",
                "tcp_keepalives_interval": "5",
                "tcp_keepalives_count": "3",
                # A frozen dispatcher stops querying: its session ends and the standby takes the lock.
                "idle_session_timeout": str(silence * 1000),
            },
        )
        sender = Sender(
            connect_timeout=self._settings.webhooks_connect_timeout,
            read_timeout=self._settings.webhooks_read_timeout,
            allow_private=self._settings.webhooks_allow_private_urls,
            per_receiver=self._cap,
        )
        store = DispatcherStore(connection)
        try:
            if not await self._acquire(store, stop):
                return
            metrics.ACTIVE.set(1)
            log.info("webhook dispatcher active")
            await connection.add_listener(CHANNEL, self._notified)
            self._sender = sender
            await self._deliver_until(stop, store)
        finally:
            await self._abandon()
            await sender.close()
            try:
                await asyncio.wait_for(connection.close(), 5.0)
            except Exception:
                connection.terminate()

    async def _acquire(self, store: DispatcherStore, stop: asyncio.Event) -> bool:
        announced = False
        while not stop.is_set():
            if await store.try_lock(LOCK_KEY):
                return True
            if not announced:
                log.info("another webhook dispatcher is active; waiting as standby")
                announced = True
            await _sleep(stop, self._settings.webhooks_poll_interval)
        return False

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _deliver_until(self, stop: asyncio.Event, store: DispatcherStore) -> None:
        next_stats = next_cleanup = 0.0
        while not stop.is_set():
            self._wake.clear()
            await self._flush(store)
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + _STATS_INTERVAL
                backlog = await store.backlog()
                metrics.PENDING.set(backlog["pending"])
                metrics.OLDEST_PENDING.set(backlog["oldest_pending_age"])
                if backlog["pending"] >= _ANALYZE_BACKLOG and not self._analyzed:
                    await self._analyze(store)
            if now >= next_cleanup:
                next_cleanup = now + _CLEANUP_INTERVAL
                if deleted := await store.delete_expired(self._settings.webhooks_retention_seconds):
                    log.info("deleted webhook events past retention", extra={"deleted": deleted})
            fetched = await self._fetch_due(store)
            if fetched < _BATCH or len(self._held) >= _MAX_HELD:
                await self._idle(stop)
        # Requests in flight get a short grace to finish and be recorded; the rest are sent again later.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_STOP_GRACE)
        await self._flush(store)

    async def _analyze(self, store: DispatcherStore) -> None:
        """Once per process; a role that may not ANALYZE leaves it to autovacuum."""
        self._analyzed = True
        try:
            await store.analyze_if_never()
        except asyncpg.InsufficientPrivilegeError:
            log.info("webhook tables not analyzed (not their owner); autovacuum will")

    async def _fetch_due(self, store: DispatcherStore) -> int:
        room = min(_BATCH, _MAX_HELD - len(self._held))
        if room <= 0:
            return 0
        depth = self._cap * _PREFETCH
        full = [e for e, rows in self._queued.items() if len(rows) + self._running[e] >= depth]
        rows = await store.due(list(self._held), full, depth, room)
        for row in rows:
            if row["id"] not in self._held:
                self._held[row["id"]] = row
                self._queued[row["endpoint_id"]].append(row)
        for endpoint in {row["endpoint_id"] for row in rows}:
            self._pump(endpoint)
        return len(rows)

    def _pump(self, endpoint: uuid.UUID) -> None:
        """Start the endpoint's queued deliveries while it has free slots."""
        queue = self._queued.get(endpoint)
        while queue and self._running[endpoint] < self._cap and self._sender is not None:
            row = queue.popleft()
            self._running[endpoint] += 1
            task = asyncio.create_task(
                self._deliver(self._sender, row, prepare(row, self._cipher, self._secrets))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if queue is not None and not queue:
            del self._queued[endpoint]

    async def _deliver(self, sender: Sender, row: Row, prepared: Prepared) -> None:
        attempts = int(row["attempts"])
        try:
            result = await sender.post(row["url"], prepared.body, prepared.headers(), row["endpoint_id"])
        except Exception as exc:  # a bug must not lose the outcome: record it as a failed attempt
            log.exception("webhook delivery failed unexpectedly", extra={"delivery": row["id"]})
            result = None
            error = f"internal error: {type(exc).__name__}"
        metrics.DELIVERIES.labels(result.kind if result else "network_error").inc()
        at = datetime.now(UTC)
        if result is not None:
            metrics.DURATION.observe(result.latency_ms / 1000)
            error = result.error or ""
        found = verdict(result.status if result else None)
        if found is Verdict.DELIVERED:
            state, delay = "delivered", None
            if attempts == 0:
                metrics.COMMIT_TO_DELIVERED.observe(max(0.0, (at - row["created_at"]).total_seconds()))
        elif found is Verdict.GONE:
            state, delay = "failed", None
        else:
            asked = retry_after(result.retry_after) if result else None
            delay = next_delay(self._schedule, attempts + 1, asked)
            state = "failed" if delay is None else "pending"
        self._done.append(
            Outcome(
                delivery_id=row["id"],
                endpoint_id=row["endpoint_id"],
                state=state,
                delay=delay,
                status=result.status if result else None,
                error=error or None,
                latency_ms=round(result.latency_ms, 3) if result else None,
                at=at,
                ok=found is Verdict.DELIVERED,
                gone=found is Verdict.GONE,
            )
        )
        endpoint = row["endpoint_id"]
        self._running[endpoint] -= 1
        if self._running[endpoint] <= 0:
            del self._running[endpoint]
        self._pump(endpoint)
        self._wake.set()

    async def _flush(self, store: DispatcherStore) -> None:
        """Record finished attempts; only then do their deliveries leave the in-flight set."""
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            disabled = await store.record(done, self._settings.webhooks_disable_after_seconds, self._reasons)
        except BaseException:
            self._done = done + self._done
            raise
        for outcome in done:
            self._held.pop(outcome.delivery_id, None)
        for row in disabled:
            metrics.DISABLED.labels(row["reason"]).inc()
            log.warning("webhook endpoint disabled", extra={"endpoint": row["id"], "reason": row["reason"]})

    async def _abandon(self) -> None:
        """Cancel what is still in flight: those deliveries stay pending and are sent again later."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._held.clear()
        self._queued.clear()
        self._running.clear()
        self._done.clear()
        self._sender = None

    async def _idle(self, stop: asyncio.Event) -> None:
        await first_of((self._wake, stop), self._settings.webhooks_poll_interval)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@contextlib.asynccontextmanager
async def dispatcher_alongside(settings: Settings, cipher: CredentialCipher) -> AsyncIterator[None]:
    """Run a dispatcher as a task of this event loop while the block runs (`dev`, tests)."""
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(settings, cipher).run(stop), name="webhook-dispatcher")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, _STOP_GRACE + 10)
        except TimeoutError:
            log.warning("the webhook dispatcher did not stop in time; cancelled")
