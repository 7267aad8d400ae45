"""A fleet member: owns the accounts of the `accounts.state` partitions its consumer group assigns it.

Kafka's group protocol decides who reads which partition. On assignment the member rebuilds those
partitions from the beginning of the compacted topic up to the end offsets taken then, tells the
application about every pollable account and follows the partitions from there; on revocation (before
the group re-forms) it releases them, so the next owner cannot start while this one still polls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.errors import KafkaError

from service.events.cloudevents import REMOVED, record_at
from service.events.handler import AssignmentHandler, Notifier
from service.events.membership import GroupListener, MembershipWatch
from service.events.ownership import AccountFilter, Share
from service.events.schema import AccountChange
from service.events.worker_metrics import WorkerStats

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(AccountChange).decode
_REMOVED = REMOVED.encode()
_FETCH_TIMEOUT_MS = 200
# Records per round. aiokafka unpacks a fetch lazily, so this bounds the record objects alive at once:
# by the thousand they outlive the young generations, and their promotion triggers full collections
# that walk every owned account. Short rounds also let the fetcher refill drained partitions sooner.
_ROUND_RECORDS = 200
_TOPIC_WAIT = 1.0


class AccountAssignment:
    """Owns a share of the live accounts as a member of consumer group `group_id`; see the module doc.

    `handler` is told `assigned`, `updated`, `released` and `ready`; `accounts` is the current set.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        handler: AssignmentHandler,
        *,
        integrations: Iterable[str] = (),
        providers: Iterable[str] = (),
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        stats: WorkerStats | None = None,
        **options: object,
    ) -> None:
        self.stats = stats if stats is not None else WorkerStats()
        self._notify = Notifier(handler, self.stats)
        self._topic = topic
        self._accept = AccountFilter.of(integrations, providers)
        self._watch = MembershipWatch(session_timeout_ms / 1000, heartbeat_interval_ms / 1000)
        self._shares: dict[TopicPartition, Share] = {}
        # Partitions revoked by the rebalance under way: resumed where they were if they come back.
        self._retained: dict[TopicPartition, Share] = {}
        # Partitions still assigned after membership lapsed, with the offsets to confirm it by.
        self._lost: dict[TopicPartition, int] = {}
        self._ends: dict[TopicPartition, int] = {}
        self._rebuild_started = 0.0
        self._ready = False
        self._stopping = False
        # Bumped whenever partitions are sought: a fetch spanning it is dropped and read again.
        self._epoch = 0
        self._lock = asyncio.Lock()
        self._failure: BaseException | None = None
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            partition_assignment_strategy=(StickyPartitionAssignor,),
            # A fetch waiting for data on followed partitions delays the first read of new ones.
            **{"fetch_max_wait_ms": 100} | options,
        )

    @property
    def accounts(self) -> dict[str, AccountChange]:
        """The accounts this member owns now, by id."""
        return {key: share.accounts[key] for share in self._shares.values() for key in share.owned}

    async def run(self, stop: asyncio.Event) -> None:
        """Join the group and keep the share up to date until `stop` is set; release everything then."""
        await self._consumer.start()
        try:
            if not await self._subscribe(stop):
                return
            watchdog = asyncio.create_task(self._watchdog())
            try:
                while not stop.is_set():
                    await self._round()
            finally:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
                async with self._lock:
                    self._stopping = True
                    await self._give_up_all()
        finally:
            await self._consumer.stop()

    async def _subscribe(self, stop: asyncio.Event) -> bool:
        # Asking about a missing topic could create it with the broker's defaults (not compacted).
        while self._topic not in await self._consumer.topics():
            log.info("waiting for the topic to be created", extra={"topic": self._topic})
            try:
                await asyncio.wait_for(stop.wait(), _TOPIC_WAIT)
                return False
            except TimeoutError:
                pass
        self._consumer.subscribe(
            [self._topic], listener=GroupListener(self._revoked, self._assigned, self._fail)
        )
        return True

    async def _round(self) -> None:
        epoch = self._epoch
        batch = await self._consumer.getmany(timeout_ms=_FETCH_TIMEOUT_MS, max_records=_ROUND_RECORDS)
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._shares and self._watch.lapsed():
                await self._lose()
            if epoch != self._epoch:
                # Fetched around a seek: read again from what was applied, to drop nothing and repeat nothing.
                for tp, resumed in self._shares.items():
                    self._consumer.seek(tp, resumed.position)
                return
            for tp, records in batch.items():
                if (share := self._shares.get(tp)) is not None:
                    await self._apply(share, records)
            await self._finish_rebuilds()

    async def _apply(self, share: Share, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            # Only what the share needs is read, and a value only when its version is new: a rebuild
            # goes through every record of the partition.
            headers = dict(record.headers)
            try:
                account_id = headers["ce_subject"].decode()
                version = int(headers["ce_accountversion"])
                removed = record.value is None or headers.get("ce_type") == _REMOVED
                fresh = share.fresh(account_id, version)
                account = _decode(record.value) if fresh and not removed else None
            except (KeyError, ValueError, msgspec.DecodeError) as exc:
                log.warning("skipping a record", extra=record_at(record, repr(exc)))
                share.position = record.offset + 1
                continue
            if (change := share.take(account_id, version, record.offset, account)) is not None:
                await self._notify.tell(change)

    async def _finish_rebuilds(self) -> None:
        """Hand over each partition read up to its end offset at assignment; then say `ready` once."""
        rebuilding = [tp for tp, share in self._shares.items() if share.rebuilding]
        if missing := [tp for tp in rebuilding if tp not in self._ends]:
            try:
                self._ends.update(await self._consumer.end_offsets(missing))
            except KafkaError as exc:
                log.warning("end offsets not known yet", extra={"partitions": missing, "error": str(exc)})
                return
        for tp in rebuilding:
            if await self._consumer.position(tp) >= self._ends[tp]:
                await self._notify.tell_all(self._shares[tp].take_over())
                del self._ends[tp]
        if not self._ready and not any(share.rebuilding for share in self._shares.values()):
            self._ready = True
            if rebuilding:
                self.stats.record_rebuild(time.monotonic() - self._rebuild_started)
            log.info("ready", extra={"accounts": len(self.accounts), "partitions": len(self._shares)})
            await self._notify.ready(len(self.accounts))

    async def _revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            self._epoch += 1
            self._ready = False
            self.stats.rebalances_total += 1
            for tp in revoked:
                self._ends.pop(tp, None)
                if (share := self._shares.pop(tp, None)) is None:
                    continue
                await self._notify.tell_all(share.give_up())
                if not share.rebuilding:
                    self._retained[tp] = share
            self._count()

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._lock:
            self._epoch += 1
            retained, self._retained, self._lost = self._retained, {}, {}
            if self._stopping:
                return
            self._watch.confirm()
            resumed = sorted(assigned & retained.keys())
            taken = sorted(tp.partition for tp in assigned)
            log.info("assigned", extra={"partitions": taken, "resumed": len(resumed)})
            for tp in resumed:
                share = self._shares[tp] = retained[tp]
                self._consumer.seek(tp, share.position)
                await self._notify.tell_all(share.take_over())
            await self._adopt(sorted(assigned - retained.keys()))
            await self._finish_rebuilds()

    async def _adopt(self, partitions: list[TopicPartition]) -> None:
        """Start rebuilding these partitions from the beginning of the topic."""
        self._ready = False
        for tp in partitions:
            self._shares[tp] = Share(self._accept)
        if partitions:
            self._rebuild_started = time.monotonic()
            # Explicit offsets: the share records where it starts, to resume there after a stale fetch.
            try:
                beginnings = await self._consumer.beginning_offsets(partitions)
            except KafkaError as exc:
                # Taken up again by the watchdog once the broker answers (and the group still agrees).
                log.warning("cannot rebuild yet", extra={"partitions": partitions, "error": str(exc)})
                for tp in partitions:
                    del self._shares[tp]
                    self._lost[tp] = 0
                self._count()
                return
            for tp, offset in beginnings.items():
                self._shares[tp].position = offset
                self._consumer.seek(tp, offset)
            try:
                self._ends.update(await self._consumer.end_offsets(partitions))
            except KafkaError as exc:
                log.warning("end offsets not known yet", extra={"partitions": partitions, "error": str(exc)})
        self._count()

    async def _lose(self) -> None:
        """No word from the group for too long: another member may be given these accounts soon."""
        allowance = {"seconds": self._watch.allowance}
        log.warning("membership not confirmed: releasing every account", extra=allowance)
        self.stats.membership_lost_total += 1
        self._lost = {tp: share.position for tp, share in self._shares.items()}
        await self._give_up_all()

    async def _give_up_all(self) -> None:
        self._epoch += 1
        self._ready = False
        shares, self._shares = self._shares, {}
        self._retained, self._ends = {}, {}
        for share in shares.values():
            await self._notify.tell_all(share.give_up())
        self._count()

    async def _watchdog(self) -> None:
        try:
            await self._watch_membership()
        except Exception as exc:
            self._fail(exc)

    async def _watch_membership(self) -> None:
        """Confirm membership by committing positions (the coordinator checks the generation)."""
        while True:
            await asyncio.sleep(self._watch.check_interval)
            sent = time.monotonic()
            confirmed = await self._confirm()
            async with self._lock:
                if confirmed:
                    self._watch.confirm(sent)
                if self._lost and confirmed:
                    # The group still counts on this member for these partitions: take them up again.
                    log.info("membership confirmed again: rebuilding", extra={"partitions": len(self._lost)})
                    self._epoch += 1
                    partitions, self._lost = sorted(self._lost), {}
                    await self._adopt(partitions)
                elif self._shares and self._watch.lapsed():
                    await self._lose()

    async def _confirm(self) -> bool:
        offsets = self._lost or {tp: share.position for tp, share in self._shares.items()}
        if not offsets:
            return False
        try:
            async with asyncio.timeout(self._watch.heartbeat_interval):
                await self._consumer.commit(offsets)
        except (KafkaError, TimeoutError) as exc:
            log.debug("membership not confirmed", extra={"error": repr(exc)})
            return False
        return True

    def _count(self) -> None:
        self.stats.owned_partitions = len(self._shares)

    def _fail(self, exc: BaseException) -> None:
        log.error("the application failed handling its accounts", extra={"error": repr(exc)})
        self._failure = exc
