"""AiokafkaEventSource against a real broker: raw bytes, manual commits, pause/resume, lag."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer

from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from domain.model import Partition, Record
from eventbridge.wiring.bridge import kafka_source
from simulator.services import Services
from simulator.topics import create_topics_async

started = asynccontextmanager(kafka_source)  # the container's lifecycle: start, then stop


async def produce(bootstrap: str, topic: str, values: list[bytes], partition: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send(
                topic, value, partition=partition, headers=[("correlation_id", b"None")]
            )
        await producer.flush()
    finally:
        await producer.stop()


async def fetch_until(source: AiokafkaEventSource, n: int, deadline_s: float = 30) -> list[Record]:
    got: list[Record] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < n and time.monotonic() < deadline:
        got += await source.fetch(timeout_s=0.5, max_records=100)
    return got


def settings_for(services: Services, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=services.kafka_bootstrap,
        topic=f"src-{unique}",
        group_id=f"g-{unique}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )


def test_records_arrive_as_raw_bytes_even_when_they_are_not_json(
    real_services: Services, unique: str
) -> None:
    settings = settings_for(real_services, unique)

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        await produce(settings.bootstrap_servers, settings.topic, [b"\xff\xfe not utf-8", b"{}"])
        async with started(settings) as source:
            records = await fetch_until(source, 2)
            assert [r.value for r in records] == [b"\xff\xfe not utf-8", b"{}"]
            assert records[0].header("correlation_id") == "None"
            assert source.assignment() == {Partition(settings.topic, 0)}

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_committed_offset_is_where_the_next_member_starts(
    real_services: Services, unique: str
) -> None:
    settings = settings_for(real_services, unique)
    p = Partition(settings.topic, 0)

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        await produce(settings.bootstrap_servers, settings.topic, [b"a", b"b", b"c"])
        async with started(settings) as first:
            assert len(await fetch_until(first, 3)) == 3
            await first.commit({p: 2})  # a and b finished, c not
            assert first.lag() == {p: 0}
        async with started(settings) as second:
            assert [r.value for r in await fetch_until(second, 1)] == [b"c"]

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_a_paused_partition_yields_nothing_until_resumed(
    real_services: Services, unique: str
) -> None:
    settings = settings_for(real_services, unique)
    p = Partition(settings.topic, 0)

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        async with started(settings) as source:
            # Join the group and get the assignment: polled, since a loaded machine may take
            # longer than any fixed window (the scenario's own deadline bounds it).
            while p not in source.assignment():
                await source.fetch(timeout_s=0.5, max_records=10)
            source.pause([p])
            assert source.paused() == {p}
            await produce(settings.bootstrap_servers, settings.topic, [b"x"])
            assert await source.fetch(timeout_s=1.0, max_records=10) == []
            source.resume([p])
            assert [r.value for r in await fetch_until(source, 1)] == [b"x"]

    asyncio.run(asyncio.wait_for(scenario(), 60))
