"""Producing records no Java client could write: header names that are not UTF-8.

librdkafka and other non-Java clients let a producer put any bytes in a header name; aiokafka
and the JVM clients only write strings. So this builds the record batch itself (aiokafka's
pure-Python builder, with a header name that "encodes" to the raw bytes) and sends one
ProduceRequest per record to the partition's leader.
"""

from __future__ import annotations

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


def record_batch(key: bytes | None, value: bytes | None, headers: RawHeaders) -> bytes:
    """One v2 record batch holding one record, header names written byte for byte."""
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 24,
    )
    builder.append(
        0, timestamp=None, key=key, value=value, headers=[(_RawName(k), v) for k, v in headers]
    )
    return bytes(builder.build())


async def produce_raw_headers(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None, RawHeaders]]
) -> list[tuple[int, int]]:
    """Send each (key, value, raw headers) record where a keyed producer would (murmur2 of
    the key), acks=all, one at a time; returns (partition, offset) of each."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    placed = []
    try:
        partitions = sorted(await client._wait_on_metadata(topic))
        choose = DefaultPartitioner()
        for key, value, headers in records:
            partition = choose(key, partitions, partitions)
            leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
            request = ProduceRequest(
                transactional_id=None,
                required_acks=-1,
                timeout=10_000,
                topics=[(topic, [(partition, record_batch(key, value, headers))])],
            )
            response = await client.send(leader, request)
            [(_, [answer])] = response.topics
            error_code, offset = answer[1], answer[2]
            if error_code:
                raise RuntimeError(f"produce to {topic}/{partition} failed: error {error_code}")
            placed.append((partition, offset))
    finally:
        await client.close()
    return placed
