"""Sends each batch of outbox events to Kafka as one transaction of a fenced producer, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from service.events.cloudevents import records
from service.events.probe import KafkaProbe
from service.events.store import OutboxEvent
from service.settings import Settings

T = TypeVar("T")
# Failures that belong to one record: retrying it elsewhere cannot help, so they count as attempts.
# Anything else (timeouts, lost connections, producer state) is Kafka's trouble, not the row's.
RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
    UnsupportedForMessageFormatError,
)
# While Kafka calls are pending, the broker is asked this often whether it is still there: aiokafka
# retries a lost broker's metadata without pause, so waiting out the whole timeout would spin.
_WATCH_INTERVAL = 0.5


class Fenced(Exception):
    """A newer producer with this transactional id started: this relay's term may be over."""


@dataclass
class BatchOutcome:
    """What became of a batch: committed rows, rows that failed on their own, and Kafka trouble."""

    published: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    kafka_error: str | None = None


class _RecordFailed(Exception):
    """A record the broker refused: the transaction is aborted, the row counts an attempt."""


class Publisher:
    """Owns one transactional producer at a time; any trouble discards it, the next batch starts anew.

    `confirm` is awaited after every producer start (init_transactions, which fences every older
    producer of the same transactional id) and must raise unless this relay still holds its lock:
    a producer that fenced the rightful relay is then never used.
    """

    def __init__(self, settings: Settings, confirm: Callable[[], Awaitable[None]]) -> None:
        self._settings = settings
        self._confirm = confirm
        self._timeout = settings.kafka_publish_timeout
        self._producer: AIOKafkaProducer | None = None
        self._probe = KafkaProbe(
            settings.kafka_bootstrap_servers, min(1.0, self._timeout), ttl=_WATCH_INTERVAL
        )

    async def start(self) -> str | None:
        """Have a started, confirmed producer; return what went wrong with Kafka, if anything."""
        if self._producer is not None:
            return None
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id="accounts-relay",
            transactional_id=self._settings.relay_transactional_id,
            acks="all",
            request_timeout_ms=int(self._timeout * 1000),
            # No wait before sending: a batch's records are all queued before the sender task runs,
            # so they go out together anyway, and a lone event is not held back.
            linger_ms=0,
        )
        try:
            await self._watched(producer.start())
        except Exception as exc:
            await _force_close(producer)
            return describe(exc)
        try:
            await self._confirm()
        except BaseException:
            await _force_close(producer)
            raise
        self._producer = producer
        return None

    async def publish(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        """Send every event to both topics in one transaction; only a committed one counts.

        A row whose record fails on its own is left out with its account's later rows; whatever else
        goes wrong, nothing of the batch is committed and every row stays pending.
        """
        outcome = BatchOutcome()
        if (error := await self.start()) is not None:
            outcome.kafka_error = error
            return outcome
        assert self._producer is not None
        try:
            outcome.published = await self._watched(self._transact(self._producer, events, outcome))
        except ProducerFenced as exc:
            await self.discard()
            raise Fenced(describe(exc)) from exc
        except _RecordFailed:
            await self.discard()
        except Exception as exc:
            outcome.kafka_error = describe(exc)
            await self.discard()
        return outcome

    async def _transact(
        self, producer: AIOKafkaProducer, events: Sequence[OutboxEvent], outcome: BatchOutcome
    ) -> list[int]:
        await producer.begin_transaction()
        sent: list[tuple[OutboxEvent, asyncio.Future[Any]]] = []
        held: set[uuid.UUID] = set()
        for event in events:
            if event.account_id in held:
                continue
            try:
                sent += [(event, future) for future in await self._send(producer, event)]
            except RECORD_ERRORS as exc:
                outcome.failed.append((event.position, describe(exc)))
                held.add(event.account_id)
        if sent:
            await asyncio.wait([future for _, future in sent])
        errors = [(event, f.exception()) for event, f in sent if f.exception() is not None]
        if fenced := next((e for _, e in errors if isinstance(e, ProducerFenced)), None):
            raise fenced
        refused = {event.position: e for event, e in errors if isinstance(e, RECORD_ERRORS)}
        if refused:
            outcome.failed += [(position, describe(e)) for position, e in refused.items()]
            raise _RecordFailed()
        if errors:
            raise errors[0][1]  # type: ignore[misc]
        await producer.commit_transaction()
        return sorted({event.position for event, _ in sent})

    async def _send(self, producer: AIOKafkaProducer, event: OutboxEvent) -> list[asyncio.Future[Any]]:
        history, state = records(event)
        topics = (self._settings.kafka_events_topic, self._settings.kafka_state_topic)
        return [
            await producer.send(topic, value=record.value, key=record.key, headers=record.headers)
            for topic, record in zip(topics, (history, state), strict=True)
        ]

    async def _watched(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` within the publish timeout, giving up at once when the broker stops answering."""
        task = asyncio.ensure_future(work)
        deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                done, _ = await asyncio.wait([task], timeout=max(0.0, min(_WATCH_INTERVAL, left)))
                if done:
                    return task.result()
                if left <= _WATCH_INTERVAL:
                    raise TimeoutError(f"Kafka did not answer within {self._timeout:g} s")
                if not await self._probe.reachable():
                    raise ConnectionError("the Kafka cluster stopped answering")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved, so a failure after giving up is not reported twice

    async def discard(self) -> None:
        """Drop the producer at once: an open transaction is aborted by the next producer's start."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await _force_close(producer)

    async def close(self) -> None:
        """Stop the producer (nothing of an unfinished batch is committed); drop it if it hangs."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            async with asyncio.timeout(min(self._timeout, 5.0)):
                await producer.stop()
        except Exception:
            await _force_close(producer)


async def _force_close(producer: AIOKafkaProducer) -> None:
    # stop() waits for the unsent batches, which a broker that is down never takes: cancel the
    # producer's sender (aiokafka offers no public way) so nothing old is sent after a new producer.
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.client.close(), 1.0)


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]
