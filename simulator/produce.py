"""Producing simulated records to Kafka with the platform's key and header conventions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from simulator.genesis_model import SimRecord


async def produce_all(bootstrap: str, topic: str, records: Iterable[SimRecord]) -> int:
    """Send every record as fast as the producer allows (key = session id); return the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        acks="all",
        max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    n = 0
    try:
        for record in records:
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n


async def produce_paced(
    bootstrap: str,
    topic: str,
    records: Iterable[SimRecord],
    *,
    stop: asyncio.Event | None = None,
    on_send: Sequence[list[tuple[str, float]]] = (),
) -> int:
    """Send each record at its `at` (seconds from now); returns how many were sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=2, acks="all", max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    start = time.monotonic()
    n = 0
    try:
        for record in records:
            if stop is not None and stop.is_set():
                break
            delay = start + record.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the traffic itself, not waiting for a result
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
            for sink in on_send:
                sink.append((record.expect.event_id or "", time.time()))
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n
