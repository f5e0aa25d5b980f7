"""Reading back what EventBridge did (user streams, DLQ) and checking it against expectations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from redis.asyncio.cluster import RedisCluster

from simulator.genesis_model import SimRecord


@dataclass(frozen=True, slots=True)
class StreamEntry:
    stream_id: str
    event_id: str
    event_type: str
    session_id: str
    data: bytes


async def read_streams(
    redis_url: str, sse_prefix: str, *, cluster: bool = False
) -> dict[str, list[StreamEntry]]:
    """Every user's stream under `sse_prefix`, oldest entry first (on a Cluster: scanned on
    every master)."""
    client: Any = (
        RedisCluster.from_url(redis_url) if cluster else aioredis.Redis.from_url(redis_url)
    )
    out: dict[str, list[StreamEntry]] = {}
    head = f"{sse_prefix}{{"
    try:
        async for key in client.scan_iter(match=f"{sse_prefix}*:stream", count=1000):
            name = key.decode()
            user = name[len(head) : -len("}:stream")]
            entries = await client.xrange(name)
            out[user] = [
                StreamEntry(
                    sid.decode(), f[b"i"].decode(), f[b"e"].decode(), f[b"s"].decode(), f[b"d"]
                )
                for sid, f in entries
            ]
    finally:
        await client.aclose()
    return out


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of `topic` (an error if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise LookupError(f"topic {topic} does not exist (error {described['error_code']})")
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, dict[str, bytes]]]:
    """All records of `topic` from the beginning to its current end: (value, headers)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[tuple[bytes | None, dict[str, bytes]]] = []
    try:
        try:
            tps = await topic_partitions(bootstrap, topic)
        except LookupError:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                out.extend((m.value, dict(m.headers)) for m in messages)
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return out


class GroupProgress:
    """Watches how far a consumer group has committed on a topic, with long-lived clients."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self._bootstrap, self._topic, self._group = bootstrap, topic, group
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._tps: list[TopicPartition] = []

    async def __aenter__(self) -> GroupProgress:
        self._tps = await topic_partitions(self._bootstrap, self._topic)
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def backlog(self) -> int:
        """Records of the topic not yet committed by the group (end minus committed offsets)."""
        end = await self._consumer.end_offsets(self._tps)
        try:
            committed = await self._admin.list_consumer_group_offsets(self._group)
        except GroupCoordinatorNotAvailableError:
            committed = {}  # no group has committed anything on this broker yet
        return sum(end[tp] - (committed[tp].offset if tp in committed else 0) for tp in self._tps)


async def group_backlog(bootstrap: str, topic: str, group: str) -> int:
    """One-off GroupProgress.backlog()."""
    async with GroupProgress(bootstrap, topic, group) as progress:
        return await progress.backlog()


@dataclass
class Verification:
    """Delivered / lost / duplicated / out of order, as the load report and the tests need."""

    produced: int = 0
    expected_delivered: int = 0
    expected_ignored: int = 0
    expected_invalid: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    misrouted: int = 0
    unexpected: int = 0
    dead_lettered: int = 0
    dlq_missing: int = 0
    dlq_wrong_reason: int = 0
    dlq_unexpected: int = 0
    lost_ids: list[str] = field(default_factory=list)
    dlq_missing_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def exactly_once(self) -> bool:
        return not (
            self.lost or self.duplicated or self.out_of_order or self.misrouted or self.unexpected
        )

    @property
    def dlq_exact(self) -> bool:
        return not (self.dlq_missing or self.dlq_wrong_reason or self.dlq_unexpected)


def verify(
    records: Sequence[SimRecord],
    streams: dict[str, list[StreamEntry]],
    dlq: Sequence[tuple[bytes | None, dict[str, bytes]]],
) -> Verification:
    """Compare what is in Redis and the DLQ with each record's expectation."""
    v = Verification(produced=len(records))
    owner_of: dict[str, str] = {}
    by_session: dict[str, list[str]] = {}
    invalid: Counter[bytes] = Counter()
    reason_of: dict[bytes, str] = {}
    for r in records:
        e = r.expect
        if e.outcome == "delivered" and e.event_id and e.user_id:
            v.expected_delivered += 1
            owner_of[e.event_id] = e.user_id
            by_session.setdefault(e.session_id or "", []).append(e.event_id)
        elif e.outcome == "ignored":
            v.expected_ignored += 1
        else:
            v.expected_invalid += 1
            invalid[r.value] += 1
            reason_of[r.value] = e.reason or ""
    position: dict[str, int] = {}
    seen: Counter[str] = Counter()
    for user, entries in streams.items():
        for index, entry in enumerate(entries):
            seen[entry.event_id] += 1
            expected_user = owner_of.get(entry.event_id)
            if expected_user is None:
                v.unexpected += 1
            elif expected_user != user:
                v.misrouted += 1
            elif seen[entry.event_id] == 1:
                position[entry.event_id] = index
    v.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    v.delivered = len(position)
    v.lost_ids = [eid for eid in owner_of if eid not in position]
    v.lost = len(v.lost_ids)
    for event_ids in by_session.values():
        last = -1
        for eid in event_ids:
            if eid in position:
                if position[eid] < last:
                    v.out_of_order += 1
                last = max(last, position[eid])
    got: Counter[bytes] = Counter()
    for value, headers in dlq:
        key = value or b""
        got[key] += 1
        v.dead_lettered += 1
        if key not in invalid:
            v.dlq_unexpected += 1
        elif headers.get("dlq.reason", b"").decode() != reason_of[key]:
            v.dlq_wrong_reason += 1
    for key in invalid:
        if got[key] == 0:
            v.dlq_missing += 1
            v.dlq_missing_by_reason[reason_of[key]] += 1
    return v
