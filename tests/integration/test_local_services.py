"""The project starts a real Kafka broker and a real Redis by itself, and they answer."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio.cluster import RedisCluster

from simulator.services import Services
from simulator.topics import create_topics


def test_kafka_round_trips_a_record_through_a_consumer_group(
    real_services: Services, unique: str
) -> None:
    topic = f"smoke-{unique}"
    create_topics(real_services.kafka_bootstrap, {topic: 2})

    async def scenario() -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=real_services.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"session-1", headers=[("h", b"v")])
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=real_services.kafka_bootstrap,
            group_id=f"g-{unique}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            while not got:
                batches = await consumer.getmany(timeout_ms=1000)
                got = [m.value for ms in batches.values() for m in ms]
            return got
        finally:
            await consumer.stop()

    assert asyncio.run(asyncio.wait_for(scenario(), 60)) == [b"hello"]


def test_redis_writes_and_reads_a_stream(real_services: Services, unique: str) -> None:
    async def scenario() -> list[tuple[bytes, dict[bytes, bytes]]]:
        url = real_services.redis_url
        cluster = real_services.redis_cluster
        client: Any = RedisCluster.from_url(url) if cluster else aioredis.Redis.from_url(url)
        try:
            entry_id = await client.xadd(f"smoke:{unique}", {"d": "1"})
            entries = await client.xrange(f"smoke:{unique}")
            assert entries[0][0] == entry_id
            return list(entries)
        finally:
            await client.aclose()

    entries = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [fields for _, fields in entries] == [{b"d": b"1"}]


def test_services_report_where_they_came_from(real_services: Services) -> None:
    assert real_services.kafka_source in {"env", "docker", "local"}
    assert real_services.redis_source in {"env", "docker", "local"}
    assert real_services.topology in {"single", "replica", "cluster"}
    if real_services.redis_source == "local":
        assert real_services.redis_cluster == (real_services.topology == "cluster")
    if real_services.kafka_source == "local":
        assert real_services.kafka_version is not None
        assert real_services.kafka_version.startswith("4.")
