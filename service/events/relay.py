"""The outbox relay: one active instance per database publishes committed events to Kafka, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator

import asyncpg

from service.events.lease import LOCK_KEY, Lease, LostLock
from service.events.metrics import RelayStats
from service.events.outbox import CHANNEL
from service.events.publisher import Fenced, Publisher
from service.events.quiet import throttle_kafka_logs
from service.events.store import OutboxStore
from service.events.topics import ensure_topics
from service.events.waiting import first_of
from service.settings import Settings

log = logging.getLogger(__name__)

# Kafka trouble is retried after 0.5 s, doubling up to this (each wait jittered, so relays restarted
# together do not retry in step); wake-ups do not shorten the wait.
_MAX_BACKOFF = 5.0
# Database trouble: wait this long before connecting again.
_RECONNECT_DELAY = 1.0
_CONNECT_TIMEOUT = 10.0
_QUERY_TIMEOUT = 30.0
# How soon the relay looks again when writes are in flight and no batch window is set.
_RECHECK = 0.002


class Relay:
    """Waits as a standby until it holds the lock, then publishes until told to stop."""

    def __init__(
        self,
        settings: Settings,
        stats: RelayStats | None = None,
        *,
        cleanup_interval: float = 60.0,
        stats_interval: float = 5.0,
    ) -> None:
        self._settings = settings
        self.stats = stats if stats is not None else RelayStats()
        self._cleanup_interval = cleanup_interval
        self._stats_interval = stats_interval
        self._wake = asyncio.Event()
        self._topics_ready = False
        self._backoff = 0.0
        self._trouble_since = 0.0
        self._retries = 0
        self._next_cleanup = 0.0
        self._next_stats = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Be the active relay whenever possible until `stop` is set; a lost database is reconnected."""
        throttle_kafka_logs()
        while not stop.is_set():
            try:
                await self._term(stop)
            except LostLock as exc:
                log.warning("relay term over; back to standby", extra={"error": str(exc)})
            except TimeoutError:
                timeouts = {"connect_timeout": _CONNECT_TIMEOUT, "query_timeout": _QUERY_TIMEOUT}
                log.warning("relay's database call timed out; connecting again", extra=timeouts)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                failure = {"error": type(exc).__name__, "detail": str(exc)}
                log.warning("relay lost the database; connecting again", extra=failure)
            except Exception:
                # Whatever went wrong, the rows are still pending: start over rather than stop relaying.
                log.exception("relay failed; starting over")
            finally:
                self.stats.active = False
            await _sleep(stop, _RECONNECT_DELAY)

    async def _term(self, stop: asyncio.Event) -> None:
        """One database connection's life: standby, then active, holding the lock on that connection."""
        kwargs = {
            "timeout": _CONNECT_TIMEOUT,
            "command_timeout": _QUERY_TIMEOUT,
            "server_settings": connection_settings(self._settings),
        }
        connection = await asyncpg.connect(self._settings.database_url, **kwargs)
        try:
            lease = Lease(self._settings, connection, kwargs)
            if not await lease.acquire(stop):
                return
            async with lease.heartbeat():
                self.stats.active = True
                topics = [self._settings.kafka_events_topic, self._settings.kafka_state_topic]
                log.info("relay active: publishing the outbox", extra={"topics": topics})
                self._topics_ready, self._backoff, self._next_cleanup, self._next_stats = False, 0.0, 0.0, 0.0
                await connection.add_listener(CHANNEL, self._notified)
                publisher = Publisher(self._settings, lease.confirm)
                try:
                    await self._publish_until(stop, OutboxStore(connection), publisher, lease)
                finally:
                    await publisher.close()
        finally:
            # Closing the connection is what releases the lock for a standby.
            try:
                await asyncio.wait_for(connection.close(), 5.0)
            except Exception:
                connection.terminate()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _publish_until(
        self, stop: asyncio.Event, store: OutboxStore, publisher: Publisher, lease: Lease
    ) -> None:
        # The procrastinate worker's shape: work until nothing is left, then sleep until notified,
        # the poll interval passes (a missed NOTIFY costs one interval), or stop.
        # The batching window: after a round that was not a full batch, the next one starts
        # RELAY_BATCH_WINDOW after it ended, so the events committed meanwhile go out together (every
        # round costs a query, a Kafka produce and an UPDATE whatever its size). A full batch (a
        # backlog) is followed by the next without waiting; a round that found nothing waits for a
        # NOTIFY, which writers send only while the relay waits (see _idle). The window is shorter
        # than the poll interval, so it never makes the relay's connection silent for longer than
        # idling does.
        while not stop.is_set():
            self._wake.clear()
            await self._housekeeping(store)
            try:
                delay = await self._round(store, publisher)
            except Fenced as exc:
                # Another producer took the id: a newer term's (this one is over), or one that never
                # held the lock (a relay that woke up late), in which case the term goes on.
                self.stats.fenced_total += 1
                fenced = {"error": str(exc)}
                log.warning("the relay's producer was fenced; is the term still ours?", extra=fenced)
                await lease.confirm()
                log.info("the relay still holds the lock; starting a new producer")
                delay = 0
            if delay == 0:
                continue
            if delay is None:
                await self._idle(store, stop)
            else:
                await _sleep(stop, delay)

    async def _round(self, store: OutboxStore, publisher: Publisher) -> float | None:
        """Publish one batch; return 0 to go on at once, None to wait for work, or a back-off delay."""
        settings = self._settings
        if not self._topics_ready:
            try:
                await ensure_topics(settings)
            except Exception as exc:
                return self._kafka_trouble(f"cannot check the topics: {type(exc).__name__}: {exc}")
            self._topics_ready = True
        # Each term starts its producer (init_transactions, fencing any older one) before reading.
        if (error := await publisher.start()) is not None:
            return self._kafka_trouble(error)
        self._kafka_back()
        events = await store.pending(settings.relay_batch_size)
        if not events:
            return None
        if settings.relay_debug_pause_after_read:
            read = {"events": len(events)}
            log.warning("pausing with the events read (RELAY_DEBUG_PAUSE_AFTER_READ)", extra=read)
            await asyncio.sleep(settings.relay_debug_pause_after_read)
        outcome = await publisher.publish(events)
        if await store.mark_published(outcome.published, LOCK_KEY) < len(outcome.published):
            raise LostLock("the relay lock was lost before the published rows were marked")
        parked = await store.record_failures(outcome.failed, settings.relay_max_attempts)
        self.stats.record_published(len(outcome.published))
        self.stats.failed_attempts_total += len(outcome.failed)
        for position, error in outcome.failed:
            log.warning("outbox event failed to publish", extra={"position": position, "error": error})
        if parked:
            self.stats.parked_total += len(parked)
            self._next_stats = 0.0
            parking = {"positions": parked, "attempts": settings.relay_max_attempts}
            log.error("outbox events parked; later events of their accounts wait", extra=parking)
        if outcome.kafka_error is not None:
            return self._kafka_trouble(outcome.kafka_error)
        return 0 if len(events) == settings.relay_batch_size else settings.relay_batch_window

    def _kafka_trouble(self, error: str) -> float:
        """Log the change to unavailable once, count the rest; return a jittered back-off."""
        if not self._backoff:
            self._trouble_since, self._retries = time.monotonic(), 0
            self.stats.kafka_errors_total += 1
            log.warning("Kafka unavailable; events wait, retrying with back-off", extra={"error": error})
        else:
            self._retries += 1
            self.stats.kafka_retries_total += 1
        self._backoff = min(max(self._backoff * 2, 0.5), _MAX_BACKOFF)
        self.stats.kafka_available = False
        return self._backoff * random.uniform(0.5, 1.0)  # noqa: S311  (jitter, not a secret)

    def _kafka_back(self) -> None:
        if self._backoff:
            outage = {"seconds": time.monotonic() - self._trouble_since, "failed_attempts": self._retries}
            log.info("Kafka is reachable again", extra=outage)
        self.stats.kafka_available, self._backoff = True, 0.0

    async def _housekeeping(self, store: OutboxStore) -> None:
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + self._stats_interval
            backlog = await store.backlog()
            self.stats.backlog = backlog.pending
            self.stats.oldest_pending_age = backlog.oldest_pending_age
            self.stats.parked = backlog.parked
        if now >= self._next_cleanup:
            self._next_cleanup = now + self._cleanup_interval
            if deleted := await store.delete_published(self._settings.outbox_retention_seconds):
                log.info("deleted published outbox events", extra={"deleted": deleted})

    async def _idle(self, store: OutboxStore, stop: asyncio.Event) -> None:
        """Wait for a NOTIFY, the poll interval or stop, holding the waiting lock (migration 0011).

        Writers notify only while the lock is held: a NOTIFY serialises its writer's commit with every
        other notifying commit, which a steady stream of writes should not pay while the relay is busy
        anyway. The lock is granted only when no write that skipped its NOTIFY is in flight, and one
        more look at the outbox after taking it finds what those writes committed.
        """
        if not await store.begin_waiting():
            # Writes are in flight, each without a NOTIFY: look again after the window.
            await _sleep(stop, self._settings.relay_batch_window or _RECHECK)
            return
        try:
            if not await store.pending(1):
                await first_of((self._wake, stop), self._settings.relay_poll_interval)
        finally:
            await store.end_waiting()


def connection_settings(settings: Settings) -> dict[str, str]:
    """The session settings of the relay's connection (the plan test opens one the same way)."""
    # If this host vanishes, the server must notice and free the lock for a standby; it waits
    # longer than a batch can take (two publish timeouts), so a cut-off relay has finished
    # sending before another one starts.
    keepalive = int(2 * settings.kafka_publish_timeout) + 5
    # A relay that is still there but has stopped talking (frozen, stuck) must free the lock too:
    # the server ends a session silent for longer than a working relay ever is between two queries
    # (a round of Kafka calls and a back-off).
    silence = int(3 * settings.kafka_publish_timeout + _MAX_BACKOFF) + 5
    return {
        "application_name": "accounts-relay",
        # Marking rows published need not wait for the WAL flush: a crash that loses the mark
        # only makes the rows go out again, which at-least-once delivery already allows.
        "synchronous_commit": "off",
        "tcp_keepalives_idle": str(keepalive),
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "3",
        "idle_session_timeout": str(silence * 1000),
        # asyncpg prepares each statement once per connection; a generic plan made while the outbox
        # was empty (a fresh install, right after a clean-up) would stay in use as it grows.
        "plan_cache_mode": "force_custom_plan",
        # Every relay statement has an index path, and on a table that only grows a scan is never
        # the right plan, whatever the statistics say at the moment.
        "enable_seqscan": "off",
    }


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, unless `stop` is set first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_relay(settings: Settings, stop: asyncio.Event, stats: RelayStats | None = None) -> None:
    """Run a relay until `stop` is set (the `relay` command)."""
    await Relay(settings, stats).run(stop)


@contextlib.asynccontextmanager
async def relay_alongside(settings: Settings) -> AsyncIterator[RelayStats | None]:
    """Run a relay as a task of this event loop while the block runs (`dev`); nothing without Kafka."""
    if not settings.kafka_enabled:
        yield None
        return
    stop, stats = asyncio.Event(), RelayStats()
    task = asyncio.create_task(run_relay(settings, stop, stats), name="outbox-relay")
    try:
        yield stats
    finally:
        stop.set()
        # A batch in flight finishes within its timeouts; past that the relay is cancelled.
        try:
            await asyncio.wait_for(task, 2 * settings.kafka_publish_timeout + 5)
        except TimeoutError:
            log.warning("the relay did not stop in time; cancelled")
