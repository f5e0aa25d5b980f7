"""Producing simulated records to Kafka with the platform's key and header conventions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer

from simulator.genesis_model import SimRecord

# Every write acknowledged by all in-sync replicas (min.insync.replicas of the topic: 2 on a
# 3-broker cluster), and idempotent: a batch retried after a leader's loss, or after a lost
# response, is written once and in order (aiokafka keeps one request in flight per broker,
# which idempotence needs). aiokafka never expires an idempotent batch: a send waits for
# the cluster as long as it takes, so traffic survives a leader's SIGKILL with nothing lost
# and nothing duplicated.
DURABLE: dict[str, Any] = {"acks": "all", "enable_idempotence": True}


async def produce_all(bootstrap: str, topic: str, records: Iterable[SimRecord]) -> int:
    """Send every record as fast as the producer allows (key = session id); return the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        **DURABLE,
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
    on_ack: Sequence[list[tuple[str, float]]] = (),
) -> int:
    """Send each record at its `at` (seconds from now); returns how many were sent. `on_send`
    sinks get (event id, wall time) as each record is handed to the producer, `on_ack` sinks
    as Kafka acknowledges it.

    No linger: a paced record goes out at once, so latency measured from the hand-over holds
    none of the runner's own waiting (docs/benchmarks.md, "Latency sweep"). aiokafka batches
    under load all the same: records handed over while the request before theirs is in
    flight (one per broker) go out together in the next."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=0, max_request_size=2 * 1024 * 1024, **DURABLE
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
            acked = await producer.send(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
            event_id = record.expect.event_id or ""
            for sink in on_send:
                sink.append((event_id, time.time()))
            if on_ack:
                acked.add_done_callback(partial(_acked, on_ack, event_id))
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n


def _acked(
    sinks: Sequence[list[tuple[str, float]]], event_id: str, sent: asyncio.Future[Any]
) -> None:
    if not sent.cancelled() and sent.exception() is None:
        at = time.time()
        for sink in sinks:
            sink.append((event_id, at))
