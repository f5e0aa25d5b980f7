"""The consumer's fetch settings reach the broker: by default a fetch is answered by the first
record; `kafka.fetch_min_bytes` makes the broker hold it until that much is there."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from adapters.kafka.settings import KafkaSettings
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.contracts.source_harness import fetch_until
from tests.integration.kafka_members import joined, started

# Long enough that a record the broker holds for it is told apart from one it hands over at
# once by any machine, however busy; below request_timeout_ms, as the settings require.
HELD_MS = 25_000


def settings_for(services: Services, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=services.kafka_bootstrap,
        topic=f"fetch-{unique}",
        group_id=f"g-{unique}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=HELD_MS,
        request_timeout_ms=HELD_MS + 15_000,
    )


async def produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2**20)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


def test_by_default_a_waiting_fetch_is_answered_by_the_first_record(
    real_services: Services, unique: str
) -> None:
    settings = settings_for(real_services, unique)
    assert settings.fetch_min_bytes == 1

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        async with started(settings) as source:
            await joined(source)
            await produce(settings.bootstrap_servers, settings.topic, b"one small record")
            # Well before the broker's wait is over: it did not hold the fetch for more bytes.
            got = await fetch_until(source, 1, deadline_s=HELD_MS / 1000 - 5)
            assert [r.value for r in got] == [b"one small record"]

    asyncio.run(scenario())


def test_fetch_min_bytes_holds_a_fetch_until_that_much_is_there(
    real_services: Services, unique: str
) -> None:
    defaults = settings_for(real_services, unique).model_dump()
    settings = KafkaSettings.model_validate({**defaults, "fetch_min_bytes": 64 * 1024})

    async def scenario() -> None:
        await create_topics_async(settings.bootstrap_servers, {settings.topic: 1})
        async with started(settings) as source:
            await joined(source)
            await produce(settings.bootstrap_servers, settings.topic, b"one small record")
            assert await source.fetch(timeout_s=2.0, max_records=10) == []  # held: 16 B < 64 KiB
            await produce(settings.bootstrap_servers, settings.topic, b"x" * 70 * 1024)
            got = await fetch_until(source, 2, deadline_s=HELD_MS / 1000 - 5)
            assert [len(r.value or b"") for r in got] == [16, 70 * 1024]

    asyncio.run(scenario())
