"""When a freshly started local broker really serves: it is ours; it takes writes and commits."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

READY_TOPIC = "__eventbridge_ready"


async def _ours_and_led(admin: AIOKafkaAdminClient, cluster_id: str) -> bool:
    cluster = await admin.describe_cluster()
    if cluster.get("cluster_id") != cluster_id or cluster.get("controller_id", -1) < 0:
        return False  # another process's broker on our port, or no controller elected yet
    if READY_TOPIC not in await admin.list_topics():
        # The response carries per-topic errors instead of raising: checked below by reading.
        await admin.create_topics([NewTopic(READY_TOPIC, 1, 1)])
    [topic] = await admin.describe_topics([READY_TOPIC])
    partitions = topic.get("partitions") or []
    return topic.get("error_code") == 0 and any(p.get("leader", -1) >= 0 for p in partitions)


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


async def _serves(bootstrap: str, cluster_id: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        if not await _ours_and_led(admin, cluster_id):
            return False
    finally:
        await admin.close()
    await _writes_and_commits(bootstrap)
    return True


def broker_serves(bootstrap: str, cluster_id: str, *, timeout_s: float = 20.0) -> bool:
    """One bounded probe: the broker at `bootstrap` has `cluster_id`, an elected controller,
    a topic with a leader, acknowledges an acks=all write and stores a group's commit."""
    # aiokafka logs every refused connection of a broker that is still starting at ERROR.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return asyncio.run(asyncio.wait_for(_serves(bootstrap, cluster_id), timeout_s))
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        quiet.setLevel(level)
