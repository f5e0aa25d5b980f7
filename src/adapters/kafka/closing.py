"""Stopping an AIOKafkaConsumer all the way, also while Kafka is down."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiokafka import AIOKafkaConsumer

from adapters.kafka.errors import LIBRARY_ERRORS

log = logging.getLogger("eventbridge.bridge")


async def stop_consumer(consumer: AIOKafkaConsumer, *, timeout_s: float) -> None:
    """`consumer.stop()`, finished by hand when it raises a cancel that is not ours.

    aiokafka 0.14 (aio-libs/aiokafka#647): Fetcher.close() awaits the fetch tasks it has just
    cancelled, so one waiting out a retry (Kafka down) raises the cancel out of stop(), and
    the rest of the close never runs: the other brokers' fetch tasks, the client."""
    task = asyncio.current_task()
    cancels_before = task.cancelling() if task is not None else 0
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if task is not None and task.cancelling() > cancels_before:
            raise  # we are being cancelled ourselves
        log.warning("kafka consumer stop cut short (Kafka down): closing the rest")
        await _finish_close(consumer, timeout_s=timeout_s)


async def _finish_close(consumer: AIOKafkaConsumer, *, timeout_s: float) -> None:
    """The coordinator's and the fetcher's tasks (one fetch per broker) cancelled and awaited,
    at most `timeout_s`, then the client closed."""
    coordinator = getattr(consumer, "_coordinator", None)
    fetcher = getattr(consumer, "_fetcher", None)
    owned = [
        getattr(coordinator, "_coordination_task", None),
        getattr(coordinator, "_heartbeat_task", None),
        getattr(coordinator, "_commit_refresh_task", None),
        getattr(fetcher, "_fetch_task", None),
        *getattr(fetcher, "_pending_tasks", ()),
    ]
    left = [t for t in owned if isinstance(t, asyncio.Future) and not t.done()]
    for running in left:
        running.cancel()
    if left:
        await asyncio.wait(left, timeout=timeout_s)
    client = getattr(consumer, "_client", None)
    if client is not None:
        with suppress(*LIBRARY_ERRORS):
            await client.close()
