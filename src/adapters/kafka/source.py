"""AiokafkaEventSource: a consumer-group member that hands raw bytes to the application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from adapters.kafka.admin import KafkaAdminError
from adapters.kafka.closing import stop_consumer
from adapters.kafka.errors import LIBRARY_ERRORS, described, kafka_errors, retriable
from adapters.kafka.leave import remove_static_member
from adapters.kafka.membership import Membership, group_instance_id
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.unreadable import PARSE_ERRORS, failed_fetch, fetch_raw, read_records
from application.ports import RebalanceCallback, SourceUnavailable
from domain.model import Partition, Record

log = logging.getLogger("eventbridge.source")


async def _nothing(_: frozenset[Partition]) -> None:
    return None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: AiokafkaEventSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self._source._revoked(frozenset(self._source._partition(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self._source._joined(assigned)
        await self._source._assigned(frozenset(self._source._partition(tp) for tp in assigned))


class AiokafkaEventSource:
    """EventSource over AIOKafkaConsumer with manual commits and no deserializers.

    Values stay bytes so a record that is not JSON, or not UTF-8, reaches our code and is
    dead-lettered there instead of stalling its partition inside the client library.

    With a group.instance.id (static membership) a restarted member takes its partitions back
    without a rebalance; stopping does not leave the group (a rolling restart), unless
    `leave_group_on_shutdown` says the member is gone for good (a scale-down).
    """

    def __init__(self, *, settings: KafkaSettings) -> None:
        self._settings = settings
        self._instance_id = group_instance_id(settings)
        self._membership = Membership(self._instance_id, settings.effective_session_timeout_ms)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.group_id,
            group_instance_id=self._instance_id,
            client_id=settings.client_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.auto_offset_reset,
            session_timeout_ms=settings.effective_session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
            fetch_min_bytes=settings.fetch_min_bytes,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            request_timeout_ms=settings.request_timeout_ms,
            metadata_max_age_ms=settings.metadata_max_age_ms,  # new partitions seen within it
        )
        self._partitions: dict[TopicPartition, Partition] = {}
        self._tps: dict[Partition, TopicPartition] = {}
        self._next_offset: dict[Partition, int] = {}
        self._on_revoked: RebalanceCallback = _nothing
        self._on_assigned: RebalanceCallback = _nothing
        self._announced = False  # the assigned callback heard of the current assignment

    async def start(self) -> None:
        """Join the group. A static member can be fenced here already: with two bridges given
        one instance id, each join replaces the other's member id, and the one still joining
        hears FENCED_INSTANCE_ID from its SyncGroup (seen in the soak). A failed start closes
        the consumer it had begun, so nothing is left open behind the error."""
        try:
            with (
                kafka_errors(SourceUnavailable, "cannot join the Kafka group"),
                self._unless_fenced(),
            ):
                self._consumer.subscribe([self._settings.topic], listener=_Listener(self))
                await self._consumer.start()
        except SourceUnavailable:
            with suppress(Exception):
                await self._consumer.stop()
            raise

    async def stop(self) -> None:
        with kafka_errors(SourceUnavailable, "cannot leave the Kafka group"):
            await stop_consumer(self._consumer, timeout_s=self._settings.request_timeout_ms / 1000)
        if self._instance_id is not None and self._settings.leave_group_on_shutdown:
            await self._leave_for_good(self._instance_id)

    async def _leave_for_good(self, instance_id: str) -> None:
        s = self._settings
        try:
            await remove_static_member(
                s.bootstrap_servers,
                s.group_id,
                instance_id,
                request_timeout_ms=s.request_timeout_ms,
            )
        except KafkaAdminError as exc:
            log.warning(
                "cannot leave the group: its partitions move once the session expires",
                extra={"group_instance_id": instance_id, "error": str(exc)},
            )
        else:
            log.info("left the group for good", extra={"group_instance_id": instance_id})

    def _joined(self, assigned: Collection[TopicPartition]) -> None:
        coordinator = getattr(self._consumer, "_coordinator", None)
        self._membership.joined(coordinator, sorted(tp.partition for tp in assigned))

    def _partition(self, tp: TopicPartition) -> Partition:
        found = self._partitions.get(tp)
        if found is None:
            found = self._partitions[tp] = Partition(tp.topic, tp.partition)
            self._tps[found] = tp
        return found

    async def _revoked(self, partitions: frozenset[Partition]) -> None:
        await self._on_revoked(partitions)
        for p in partitions:
            self._next_offset.pop(p, None)

    async def _assigned(self, partitions: frozenset[Partition]) -> None:
        self._announced = True
        await self._on_assigned(partitions)

    def on_rebalance(self, *, revoked: RebalanceCallback, assigned: RebalanceCallback) -> None:
        """The group may have been joined already (the consumer joins in the background from
        `start`): then the next fetch tells `assigned` what this member holds."""
        self._on_revoked, self._on_assigned = revoked, assigned
        self._announced = False

    async def fetch(self, *, timeout_s: float, max_records: int) -> list[Record]:
        """Raises SourceUnavailable only for what retrying cannot fix; a failure that may pass
        is logged and answered with no records, after the timeout, as an empty fetch would be."""
        if self._membership.replaced:
            raise SourceUnavailable(self._membership.replaced, retriable=False)
        if not self._announced and self._consumer.assignment():
            await self._assigned(self.assignment())
        try:
            with self._unless_fenced():
                batches = await self._consumer.getmany(
                    timeout_ms=int(timeout_s * 1000), max_records=max_records
                )
        except PARSE_ERRORS as exc:
            return await self._around_unreadable(exc, max_records)
        except LIBRARY_ERRORS as exc:
            if not retriable(exc):
                raise SourceUnavailable(f"fetch failed: {described(exc)}", retriable=False) from exc
            log.warning("fetch failed, trying again", extra={"error": described(exc)})
            await asyncio.sleep(timeout_s)  # as long as an empty fetch would have waited
            return []
        return self._records(batches)

    @contextmanager
    def _unless_fenced(self) -> Iterator[None]:
        """The broker fencing this static member stops the bridge naming the setting, as
        `Membership.replaced` does, not as an unexpected library error."""
        try:
            yield
        except LIBRARY_ERRORS as exc:
            if (why := self._membership.fenced(exc)) is not None:
                raise SourceUnavailable(why, retriable=False) from exc
            raise

    def _records(self, batches: Mapping[TopicPartition, list[Any]]) -> list[Record]:
        out: list[Record] = []
        for tp, messages in batches.items():
            partition = self._partition(tp)
            out.extend(
                Record(partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                for m in messages
            )
            if messages:
                self._next_offset[partition] = messages[-1].offset + 1
        return out

    async def _around_unreadable(self, exc: BaseException, max_records: int) -> list[Record]:
        """aiokafka could not parse a record: hand over what the failed call had drained from
        other partitions, and read the failed partition's next records by hand (the bad one
        marked unreadable), then move its position past them."""
        tp, drained = failed_fetch(exc)
        if tp is None:  # not where aiokafka raises it from: nothing to step past safely
            raise SourceUnavailable(
                f"a record cannot be read: {described(exc)}", retriable=False
            ) from exc
        out = self._records(drained)
        with kafka_errors(SourceUnavailable, f"cannot read {tp.topic}/{tp.partition} by hand"):
            start = await self._consumer.position(tp)
            raw = await fetch_raw(
                self._consumer._client, tp, start, self._settings.max_partition_fetch_bytes
            )
            records = read_records(raw, start, max(max_records - len(out), 1))
            if not records:
                return out
            self._consumer.seek(tp, records[-1].offset + 1)
        partition = self._partition(tp)
        out.extend(
            Record(partition, r.offset, r.key, r.value, r.headers, r.timestamp_ms, r.unreadable)
            for r in records
        )
        self._next_offset[partition] = records[-1].offset + 1
        bad = sum(1 for r in records if r.unreadable is not None)
        log.warning(
            "records read by hand past one the client cannot parse",
            extra={
                "partition": f"{tp.topic}/{tp.partition}",
                "records": len(records),
                "unreadable": bad,
            },
        )
        return out

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        if not offsets:
            return
        unknown = [p for p in offsets if p not in self._tps]
        if unknown:  # never assigned to this member: as aiokafka says of one assigned no more
            raise SourceUnavailable(f"commit failed: {unknown[0]} is not assigned", retriable=False)
        # aiokafka retries a commit until the coordinator answers, without end: while Kafka is
        # down the bridge would wait there and never see a SIGTERM. Bounded like every request.
        limit_s = self._settings.request_timeout_ms / 1000
        try:
            async with asyncio.timeout(limit_s):
                with kafka_errors(SourceUnavailable, "commit failed"), self._unless_fenced():
                    await self._consumer.commit({self._tps[p]: o for p, o in offsets.items()})
        except TimeoutError:
            raise SourceUnavailable(
                f"commit failed: no answer from Kafka within {limit_s:g} s "
                "(kafka.request_timeout_ms)"
            ) from None

    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._partition(tp) for tp in self._consumer.assignment())

    def pause(self, partitions: Collection[Partition]) -> None:
        """Pauses those still assigned (a rebalance may just have taken some away)."""
        self._guarded("pause", self._consumer.pause, partitions)

    def resume(self, partitions: Collection[Partition]) -> None:
        self._guarded("resume", self._consumer.resume, partitions)

    def _guarded(self, what: str, call: Any, partitions: Collection[Partition]) -> None:
        assigned = self._consumer.assignment()
        tps = [tp for p in partitions if (tp := self._tps.get(p)) is not None and tp in assigned]
        try:
            call(*tps)
        except LIBRARY_ERRORS as exc:  # the port promises no error: a rebalance raced us
            log.warning(f"cannot {what} partitions", extra={"error": described(exc)})

    def paused(self) -> frozenset[Partition]:
        return frozenset(self._partition(tp) for tp in self._consumer.paused())

    def lag(self) -> dict[Partition, int]:
        """Highwater minus next offset to fetch, for partitions we have fetched from."""
        out: dict[Partition, int] = {}
        for tp in self._consumer.assignment():
            partition = self._partition(tp)
            try:
                high: Any = self._consumer.highwater(tp)
            except LIBRARY_ERRORS:  # unassigned since: no lag to report for it
                continue
            if high is not None and partition in self._next_offset:
                out[partition] = max(0, int(high) - self._next_offset[partition])
        return out
