"""Consuming account events: each event handed to the application once, in version order per account.

Delivery is at least once, so an event can arrive twice, and a worker that reads both topics can see
an account's old versions after newer ones. The helper drops an event whose id was already handled
or whose account version is not above the last one applied for that account.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from service.events.cloudevents import REMOVED, record_at
from service.events.schema import AccountChange

log = logging.getLogger(__name__)
_decode_value = msgspec.json.Decoder(AccountChange).decode
_REQUIRED = ("ce_id", "ce_type", "ce_subject", "ce_accountversion")
_FETCH_TIMEOUT_MS = 500
_COMMIT_TIMEOUT = 10.0


class NotAnAccountEvent(ValueError):
    """A record without the CloudEvents headers of an account event."""


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """One account event as read from Kafka."""

    id: str
    type: str
    account_id: str
    organization_id: str
    client_id: str
    version: int
    time: str
    source: str
    # The account as of this event; None for a tombstone on the state topic.
    account: AccountChange | None
    topic: str
    partition: int
    offset: int

    @property
    def removed(self) -> bool:
        return self.type == REMOVED

    @property
    def changes(self) -> list[str]:
        return [] if self.account is None else self.account.changes


def parse_record(record: ConsumerRecord[bytes, bytes]) -> AccountEvent:
    """Read an event from a record's CloudEvents headers and JSON value."""
    try:
        attributes = {name: value.decode() for name, value in record.headers}
        missing = [name for name in _REQUIRED if name not in attributes]
        if missing:
            raise NotAnAccountEvent(f"missing headers {', '.join(missing)}")
        return AccountEvent(
            id=attributes["ce_id"],
            type=attributes["ce_type"],
            account_id=attributes["ce_subject"],
            organization_id=attributes.get("ce_organization", ""),
            client_id=attributes.get("ce_client", ""),
            version=int(attributes["ce_accountversion"]),
            time=attributes.get("ce_time", ""),
            source=attributes.get("ce_source", ""),
            account=None if record.value is None else _decode_value(record.value),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
    except (UnicodeDecodeError, ValueError, msgspec.DecodeError) as exc:
        raise NotAnAccountEvent(str(exc)) from exc


class AppliedState(Protocol):
    """What the application has applied; keep it next to the application's own data to survive restarts."""

    def last_version(self, account_id: str) -> int | None: ...

    def has_seen(self, event_id: str) -> bool: ...

    def remember(self, event: AccountEvent) -> None: ...


class MemoryState:
    """Applied state in memory: the last version per account and the most recent event ids."""

    def __init__(self, max_event_ids: int = 100_000) -> None:
        self._versions: dict[str, int] = {}
        self._event_ids: OrderedDict[str, None] = OrderedDict()
        self._max_event_ids = max_event_ids

    def last_version(self, account_id: str) -> int | None:
        return self._versions.get(account_id)

    def has_seen(self, event_id: str) -> bool:
        return event_id in self._event_ids

    def remember(self, event: AccountEvent) -> None:
        self._versions[event.account_id] = max(event.version, self._versions.get(event.account_id, 0))
        self._event_ids[event.id] = None
        if len(self._event_ids) > self._max_event_ids:
            self._event_ids.popitem(last=False)


def is_new(state: AppliedState, event: AccountEvent) -> bool:
    """Whether the application still has to apply this event."""
    if state.has_seen(event.id):
        return False
    last = state.last_version(event.account_id)
    return last is None or event.version > last


Start = Literal["earliest", "latest"] | int


class AccountEventConsumer:
    """Wraps AIOKafkaConsumer and yields each new account event once.

    `start` says where to begin without committed offsets: "earliest", "latest", or a timestamp in
    milliseconds. With a `group_id`, partitions are shared with the group and offsets are committed
    after the application handled the events; without one, this consumer reads every partition.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        state: AppliedState | None = None,
        group_id: str | None = None,
        start: Start = "earliest",
        **options: Any,
    ) -> None:
        self.state: AppliedState = state if state is not None else MemoryState()
        self.skipped = 0
        self._topics = list(topics)
        self._handled: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._start = start
        self._group_id = group_id
        # Set once the group has given this member its first assignment (possibly empty).
        self._joined = asyncio.Event()
        # Subscribed only once the topics exist: asking a broker about a missing topic can create it
        # with the broker's defaults (an uncompacted state topic), before the relay creates it right.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="latest" if start == "latest" else "earliest",
            # The relay publishes each batch as a Kafka transaction: records of a batch that was
            # aborted (a fenced relay's, a failed one's) are never handed out.
            **({"isolation_level": "read_committed"} | options),
        )

    async def start(self) -> None:
        """Connect, wait for the topics to exist, and subscribe."""
        await self._consumer.start()
        try:
            await self._subscribe()
        except BaseException:
            await self._consumer.stop()
            raise

    async def _subscribe(self) -> None:
        announced = False
        while missing := set(self._topics) - await self._consumer.topics():
            if not announced:
                log.info("waiting for the topics to be created", extra={"topics": sorted(missing)})
                announced = True
            await asyncio.sleep(1.0)
        if self._group_id is not None:
            self._consumer.subscribe(self._topics, listener=_Joined(self._joined))
            return
        self._consumer.subscribe(self._topics)
        # Without a group every partition is assigned to us shortly after subscribing, a topic at a
        # time as the metadata names it; aiokafka offers nothing to wait on.
        while {tp.topic for tp in self._consumer.assignment()} != set(self._topics):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        self._joined.set()
        if isinstance(self._start, int):
            await self._seek_to_time(self._start)

    async def stop(self) -> None:
        """Commit what was handled (with a group), then disconnect."""
        try:
            async with asyncio.timeout(_COMMIT_TIMEOUT):
                await self.commit()
        except Exception as exc:
            log.warning("could not commit the handled offsets on stop", extra={"error": str(exc)})
        await self._consumer.stop()

    async def commit(self) -> None:
        """Commit the offsets of the events handled so far (a no-op without a group)."""
        if self._group_id is not None and self._handled != self._committed:
            # After a rebalance, only the partitions still ours may be committed.
            assigned = self._consumer.assignment()
            self._handled = {tp: offset for tp, offset in self._handled.items() if tp in assigned}
            handled = dict(self._handled)
            if handled:
                await self._consumer.commit(handled)
            self._committed = handled

    async def __aenter__(self) -> AccountEventConsumer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _seek_to_time(self, timestamp_ms: int) -> None:
        partitions = sorted(self._consumer.assignment())
        found = await self._consumer.offsets_for_times({tp: timestamp_ms for tp in partitions})
        ends = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            hit = found.get(tp)
            self._consumer.seek(tp, hit.offset if hit is not None else ends[tp])

    def __aiter__(self) -> AsyncGenerator[AccountEvent, None]:
        return self.events()

    async def events(self, *, until_end: bool = False) -> AsyncGenerator[AccountEvent, None]:
        """Yield new events as they come; with `until_end`, stop at the end offsets seen when called.

        An event counts as handled once the loop body that received it has finished (the loop asks
        for the next one): only then is it remembered and, with a group, its offset committed (before
        the next fetch, and on stop). An event whose handling failed is offered again after a restart.
        """
        ends = await self._end_offsets() if until_end else {}
        while not until_end or await self._behind(ends):
            await self.commit()
            batch = await self._consumer.getmany(timeout_ms=_FETCH_TIMEOUT_MS)
            for records in batch.values():
                for record in records:
                    if (event := self._new_event(record)) is not None:
                        yield event
                        self.state.remember(event)
                    self._handled[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def _new_event(self, record: ConsumerRecord[bytes, bytes]) -> AccountEvent | None:
        try:
            event = parse_record(record)
        except NotAnAccountEvent as exc:
            log.warning("skipping a record", extra=record_at(record, str(exc)))
            return None
        if not is_new(self.state, event):
            self.skipped += 1
            return None
        return event

    async def _end_offsets(self) -> dict[TopicPartition, int]:
        # With a group, the assignment is empty until the member has joined.
        await self._joined.wait()
        partitions = list(self._consumer.assignment())
        return dict(await self._consumer.end_offsets(partitions)) if partitions else {}

    async def _behind(self, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await self._consumer.position(tp) < end:
                return True
        return False


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    """Sets `joined` when the group assigns this member its partitions (none is an answer too)."""

    def __init__(self, joined: asyncio.Event) -> None:
        self._joined = joined

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._joined.set()
