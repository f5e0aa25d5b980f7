"""A record the client library cannot parse (a header name that is not UTF-8) stalls nothing."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer

from adapters.kafka.settings import KafkaSettings
from eventbridge.wiring.bridge import kafka_source
from simulator.raw_produce import produce_raw_headers
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.contracts.source_harness import fetch_until

started = asynccontextmanager(kafka_source)
BAD_NAME = b"\xff\xfe-not-utf8"


def settings_for(services: Services, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=services.kafka_bootstrap,
        topic=f"src-{unique}",
        group_id=f"g-{unique}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )


async def produce_to(bootstrap: str, topic: str, partition: int, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def test_a_header_name_that_is_not_utf8_marks_its_record_and_its_neighbours_arrive(
    real_services: Services, unique: str
) -> None:
    settings = settings_for(real_services, unique)
    bootstrap, topic = settings.bootstrap_servers, settings.topic

    async def scenario() -> None:
        await create_topics_async(bootstrap, {topic: 2})
        await produce_to(bootstrap, topic, 1, [b"other-1", b"other-2"])
        # One batch, as librdkafka would send it: the bad record between two good ones.
        await produce_raw_headers(
            bootstrap,
            topic,
            [
                (b"k", b"before", [(b"ok", b"1")]),
                (b"k", b"bad", [(b"fine", b"x"), (BAD_NAME, b"v")]),
                (b"k", b"after", []),
            ],
            partition=0,
        )
        await produce_raw_headers(bootstrap, topic, [(b"k", b"later", [])], partition=0)
        await produce_to(bootstrap, topic, 1, [b"other-3"])
        async with started(settings) as source:
            got = await fetch_until(source, 7)
            by_partition = {p: [r for r in got if r.partition.partition == p] for p in (0, 1)}
            assert [r.value for r in by_partition[0]] == [b"before", b"bad", b"after", b"later"]
            assert [r.offset for r in by_partition[0]] == [0, 1, 2, 3]
            assert [r.value for r in by_partition[1]] == [b"other-1", b"other-2", b"other-3"]
            [bad] = [r for r in got if r.unreadable is not None]
            assert bad.value == b"bad"
            assert "header name is not UTF-8" in bad.unreadable
            assert ("fine", b"x") in bad.headers
            assert all(r.unreadable is None for r in got if r is not bad)
            assert await source.fetch(timeout_s=0.5, max_records=100) == []
            await source.commit({bad.partition: 4})

    asyncio.run(asyncio.wait_for(scenario(), 60))
