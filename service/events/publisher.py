"""Sends a batch of outbox events to Kafka with an idempotent producer, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from service.events.cloudevents import history_record, state_record
from service.events.store import OutboxEvent
from service.settings import Settings

log = logging.getLogger(__name__)

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


@dataclass
class BatchOutcome:
    """What became of a batch: acknowledged rows, rows that failed on their own, and Kafka trouble."""

    published: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    kafka_error: str | None = None


class Publisher:
    """Owns one producer at a time; a timeout or a producer failure replaces it on the next batch."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout = settings.kafka_publish_timeout
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, events: Sequence[OutboxEvent]) -> BatchOutcome:
        """Send every event to both topics, then wait for all acknowledgements.

        A row counts as published only when both its records were acknowledged and every earlier
        row of the same account in this batch was too; the rest stay pending and are sent again, so
        an account's last record on each topic is always its latest event.
        """
        outcome = BatchOutcome()
        try:
            producer = await self._ensure_producer()
        except Exception as exc:
            outcome.kafka_error = _describe(exc)
            await self.close()
            return outcome
        sent: list[tuple[OutboxEvent, list[asyncio.Future[object]]]] = []
        # Account → position of its first row that did not get through; its later rows wait.
        held: dict[uuid.UUID, int] = {}
        try:
            async with asyncio.timeout(self._timeout):
                for event in events:
                    if event.account_id in held:
                        continue
                    try:
                        sent.append((event, await self._send(producer, event)))
                    except RECORD_ERRORS as exc:
                        outcome.failed.append((event.position, _describe(exc)))
                        held[event.account_id] = event.position
            if futures := [f for _, row_futures in sent for f in row_futures]:
                async with asyncio.timeout(self._timeout):
                    await asyncio.wait(futures)
        except Exception as exc:
            outcome.kafka_error = _describe(exc)
        self._settle(sent, held, outcome)
        if outcome.kafka_error is not None:
            await self.close()
        return outcome

    def _settle(
        self,
        sent: list[tuple[OutboxEvent, list[asyncio.Future[object]]]],
        held: dict[uuid.UUID, int],
        outcome: BatchOutcome,
    ) -> None:
        for event, futures in sent:
            if held.get(event.account_id, event.position) < event.position:
                continue
            errors = [f.exception() for f in futures if f.done() and not f.cancelled()]
            record_error = next((e for e in errors if isinstance(e, RECORD_ERRORS)), None)
            if all(f.done() and not f.cancelled() for f in futures) and not any(errors):
                outcome.published.append(event.position)
                continue
            held.setdefault(event.account_id, event.position)
            if record_error is not None:
                outcome.failed.append((event.position, _describe(record_error)))
            elif outcome.kafka_error is None:
                first = next((e for e in errors if e is not None), None)
                outcome.kafka_error = _describe(first) if first else "not acknowledged in time"

    async def _send(self, producer: AIOKafkaProducer, event: OutboxEvent) -> list[asyncio.Future[object]]:
        futures = []
        for topic, record in [
            (self._settings.kafka_events_topic, history_record(event)),
            (self._settings.kafka_state_topic, state_record(event)),
        ]:
            futures.append(
                await producer.send(topic, value=record.value, key=record.key, headers=record.headers)
            )
        return futures

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers,
                client_id="accounts-relay",
                enable_idempotence=True,
                acks="all",
                request_timeout_ms=int(self._timeout * 1000),
                # No wait before sending: a batch's records are all queued before the sender task runs,
                # so they go out together anyway, and a lone event is not held back.
                linger_ms=0,
            )
            self._producer = producer
            async with asyncio.timeout(self._timeout):
                await producer.start()
            log.info("Kafka producer started")
        return self._producer

    async def close(self) -> None:
        """Stop the producer, flushing what it can within the timeout, then drop whatever is left."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await producer.stop()
        except Exception as exc:
            log.warning("Kafka producer did not stop cleanly (%s); closing it", _describe(exc))
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


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]
