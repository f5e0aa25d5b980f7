"""A just-started broker is slow: records through it once before anything is measured."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from simulator.topics import create_topics_async

BURST = 10  # records per produce request


@dataclass(frozen=True)
class Warmed:
    """The warm-up's topic (its group has the same name) and how long it took."""

    topic: str
    seconds: float


async def warm_kafka(
    bootstrap: str, *, records: int, partitions: int = 6, timeout_s: float = 300.0
) -> Warmed:
    """Produce `records` small records to a fresh topic in many small requests, consumed as
    they come by a group that commits as it goes: the broker's produce, fetch and commit paths
    run compiled, not interpreted, when the first rate is measured.

    A fresh JVM interprets its bytecode until the JIT has compiled the hot paths, after some
    thousands of calls (of requests, not records): on a just-started broker a produce took
    2-3 times as long as after this warm-up (docs/benchmarks.md). Without it the first rate
    of a sweep, 2 ev/s, the one that sends the fewest records, met the coldest broker."""
    began = time.monotonic()
    topic = f"sweep-warmup-{secrets.token_hex(4)}"
    await create_topics_async(bootstrap, {topic: partitions})
    quiet = logging.getLogger("aiokafka.producer.sender")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a fresh topic's first sends meet "not leader yet": retried
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(
                _produce(bootstrap, topic, records), _consume(bootstrap, topic, records)
            )
    finally:
        quiet.setLevel(level)
    return Warmed(topic, time.monotonic() - began)


async def _produce(bootstrap: str, topic: str, records: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    try:
        value = b"w" * 400  # about an event's size
        for n in range(0, records, BURST):
            sent = [
                await producer.send(topic, value, key=str(k % 97).encode())
                for k in range(n, min(n + BURST, records))
            ]
            await sent[-1]  # small requests, many of them: the JIT counts requests
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, records: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen = 0
        while seen < records:
            batches = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(messages) for messages in batches.values())
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
