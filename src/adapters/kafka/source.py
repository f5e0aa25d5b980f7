"""AiokafkaEventSource: a consumer-group member that hands raw bytes to the application."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from adapters.kafka.settings import KafkaSettings
from application.ports import RebalanceCallback, SourceUnavailable
from domain.model import Partition, Record


async def _nothing(_: frozenset[Partition]) -> None:
    return None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: AiokafkaEventSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self._source._revoked(frozenset(self._source._partition(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        await self._source._assigned(frozenset(self._source._partition(tp) for tp in assigned))


class AiokafkaEventSource:
    """EventSource over AIOKafkaConsumer with manual commits and no deserializers.

    Values stay bytes so a record that is not JSON, or not UTF-8, reaches our code and is
    dead-lettered there instead of stalling its partition inside the client library.
    """

    def __init__(self, *, settings: KafkaSettings) -> None:
        self._settings = settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.group_id,
            client_id=settings.client_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.auto_offset_reset,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            request_timeout_ms=settings.request_timeout_ms,
        )
        self._partitions: dict[TopicPartition, Partition] = {}
        self._tps: dict[Partition, TopicPartition] = {}
        self._next_offset: dict[Partition, int] = {}
        self._on_revoked: RebalanceCallback = _nothing
        self._on_assigned: RebalanceCallback = _nothing

    async def start(self) -> None:
        self._consumer.subscribe([self._settings.topic], listener=_Listener(self))
        try:
            await self._consumer.start()
        except KafkaError as exc:
            raise SourceUnavailable(f"cannot join Kafka group: {exc}") from exc

    async def stop(self) -> None:
        await self._consumer.stop()

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
        await self._on_assigned(partitions)

    def on_rebalance(self, *, revoked: RebalanceCallback, assigned: RebalanceCallback) -> None:
        self._on_revoked, self._on_assigned = revoked, assigned

    async def fetch(self, *, timeout_s: float, max_records: int) -> list[Record]:
        try:
            batches = await self._consumer.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except KafkaError as exc:
            raise SourceUnavailable(f"fetch failed: {exc}", retriable=exc.retriable) from exc
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

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        if not offsets:
            return
        try:
            await self._consumer.commit({self._tps[p]: o for p, o in offsets.items()})
        except KafkaError as exc:
            raise SourceUnavailable(f"commit failed: {exc}", retriable=False) from exc

    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._partition(tp) for tp in self._consumer.assignment())

    def pause(self, partitions: Collection[Partition]) -> None:
        self._consumer.pause(*(self._tps[p] for p in partitions if p in self._tps))

    def resume(self, partitions: Collection[Partition]) -> None:
        self._consumer.resume(*(self._tps[p] for p in partitions if p in self._tps))

    def paused(self) -> frozenset[Partition]:
        return frozenset(self._partition(tp) for tp in self._consumer.paused())

    def lag(self) -> dict[Partition, int]:
        """Highwater minus next offset to fetch, for partitions we have fetched from."""
        out: dict[Partition, int] = {}
        for tp in self._consumer.assignment():
            partition = self._partition(tp)
            high: Any = self._consumer.highwater(tp)
            if high is not None and partition in self._next_offset:
                out[partition] = max(0, int(high) - self._next_offset[partition])
        return out
