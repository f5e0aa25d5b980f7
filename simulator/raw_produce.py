"""Producing records no Java client could write: header names that are not UTF-8.

librdkafka and other non-Java clients let a producer put any bytes in a header name; aiokafka
and the JVM clients only write strings. So this builds the record batch itself (aiokafka's
pure-Python builder, with a header name that "encodes" to the raw bytes) and sends one
ProduceRequest per record to the partition's leader.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

RawHeaders = Sequence[tuple[bytes, bytes | None]]


class _RawName(str):
    """A header name whose UTF-8 encoding is whatever bytes it was made from."""

    raw: bytes

    def __new__(cls, raw: bytes) -> _RawName:
        name = super().__new__(cls, raw.decode("utf-8", "replace"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:  # type: ignore[override]
        return self.raw


RawRecord = tuple[bytes | None, bytes | None, RawHeaders]


def record_batch(records: Sequence[RawRecord]) -> bytes:
    """One v2 record batch holding `records`, header names written byte for byte."""
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 24,
    )
    for offset, (key, value, headers) in enumerate(records):
        named = [(_RawName(k), v) for k, v in headers]
        builder.append(offset, timestamp=None, key=key, value=value, headers=named)
    return bytes(builder.build())


async def produce_raw_headers(
    bootstrap: str, topic: str, records: Sequence[RawRecord], *, partition: int | None = None
) -> list[tuple[int, int]]:
    """Send (key, value, raw headers) records, acks=all, where a keyed producer would send
    each (murmur2 of its key), one batch per record; or, with `partition`, all of them as one
    batch to that partition (a batch in which a bad record has good neighbours). Returns the
    (partition, base offset) of each batch sent."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    placed = []
    try:
        partitions = sorted(await client._wait_on_metadata(topic))
        choose = DefaultPartitioner()
        batches: list[tuple[int, Sequence[RawRecord]]] = (
            [(partition, records)]
            if partition is not None
            else [(choose(r[0], partitions, partitions), [r]) for r in records]
        )
        for number, batch in batches:
            placed.append((number, await _send(client, topic, number, batch)))
    finally:
        await client.close()
    return placed


# A new topic's leaders reach the brokers' metadata a moment apart: these answers mean "ask
# again after a metadata refresh" (LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER,
# UNKNOWN_TOPIC_OR_PARTITION), as any Kafka producer retries them.
_RETRIABLE = {3, 5, 6}
_SEND_DEADLINE_S = 30.0


async def _send(client: AIOKafkaClient, topic: str, number: int, batch: Sequence[RawRecord]) -> int:
    """One batch to its partition's leader, retried on a stale leader until a deadline; returns
    its base offset."""
    deadline = time.monotonic() + _SEND_DEADLINE_S
    while True:
        leader = client.cluster.leader_for_partition(TopicPartition(topic, number))
        request = ProduceRequest(
            transactional_id=None,
            required_acks=-1,
            timeout=10_000,
            topics=[(topic, [(number, record_batch(batch))])],
        )
        response = await client.send(leader, request)
        [(_, [answer])] = response.topics
        error_code, offset = answer[1], answer[2]
        if not error_code:
            return int(offset)
        if error_code not in _RETRIABLE or time.monotonic() > deadline:
            raise RuntimeError(f"produce to {topic}/{number} failed: error {error_code}")
        await client.force_metadata_update()
