"""When a freshly started local broker (or cluster) really serves: it is ours, every broker is
in it, and it replicates, takes acks=all writes and stores a group's commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

READY_TOPIC = "__eventbridge_ready"
T = TypeVar("T")


async def _ours_and_led(admin: AIOKafkaAdminClient, cluster_id: str, brokers: int) -> bool:
    cluster = await admin.describe_cluster()
    if cluster.get("cluster_id") != cluster_id or cluster.get("controller_id", -1) < 0:
        return False  # another process's broker on our port, or no controller elected yet
    if len(cluster.get("brokers") or []) < brokers:
        return False  # not every broker has registered (and been unfenced) yet
    if READY_TOPIC not in await admin.list_topics():
        # The response carries per-topic errors instead of raising: checked below by reading.
        await admin.create_topics([NewTopic(READY_TOPIC, 1, brokers)])
    [topic] = await admin.describe_topics([READY_TOPIC])
    partitions = topic.get("partitions") or []
    return (
        topic.get("error_code") == 0
        and bool(partitions)
        and all(p.get("leader", -1) >= 0 and len(p.get("isr") or []) == brokers for p in partitions)
    )


async def _writes_and_commits(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000)
    await producer.start()
    try:
        await producer.send_and_wait(READY_TOPIC, b"ready", partition=0)
    finally:
        await producer.stop()
    # A committed offset proves the group coordinator is up (it creates __consumer_offsets),
    # which every consumer group of the tests needs first.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=READY_TOPIC,
        enable_auto_commit=False,
        request_timeout_ms=5000,
    )
    await consumer.start()
    try:
        tp = TopicPartition(READY_TOPIC, 0)
        consumer.assign([tp])
        await consumer.commit({tp: 1})
    finally:
        await consumer.stop()


async def _serves(bootstrap: str, cluster_id: str, brokers: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        if not await _ours_and_led(admin, cluster_id, brokers):
            return False
    finally:
        await admin.close()
    await _writes_and_commits(bootstrap)
    return True


@contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """aiokafka logs every refused connection at ERROR: of a broker still starting, or of a
    node a fault test killed. A probe expects those."""
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        quiet.setLevel(level)


def probe(check: Coroutine[Any, Any, T], timeout_s: float) -> T | None:
    """Run one bounded admin probe on its own event loop; None when Kafka did not answer."""
    with quiet_kafka_client():
        try:
            return asyncio.run(asyncio.wait_for(check, timeout_s))
        except (KafkaError, OSError, TimeoutError):
            return None


def broker_serves(
    bootstrap: str, cluster_id: str, *, brokers: int = 1, timeout_s: float = 20.0
) -> bool:
    """One bounded probe: the cluster at `bootstrap` has `cluster_id`, an elected controller
    and `brokers` live brokers, a topic replicated to all of them with every replica in sync,
    acknowledges an acks=all write and stores a group's commit."""
    return bool(probe(_serves(bootstrap, cluster_id, brokers), timeout_s))
