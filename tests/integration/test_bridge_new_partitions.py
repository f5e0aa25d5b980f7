"""A partition added to the topic while the bridge runs is consumed within
`kafka.metadata_max_age_ms` (default 30 s), not after aiokafka's default of five minutes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from simulator.services import Services
from simulator.verify import read_streams
from tests.integration.bridge_env import BridgeRun
from tests.integration.kafka_members import add_partitions
from tests.integration.raw_events import command_event, event_id_of, produce_raw

pytestmark = pytest.mark.timeout(240)


async def produce_to(bootstrap: str, topic: str, partition: int, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def test_a_partition_added_while_the_bridge_runs_is_consumed_within_the_metadata_age(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)  # the default metadata age
    bootstrap = real_services.kafka_bootstrap
    session = str(uuid.uuid4())
    before, after = command_event(session, "7"), command_event(session, "7")
    bridge = run.bridge()

    async def delivered() -> list[str]:
        streams = await read_streams(
            real_services.redis_url, run.prefix, cluster=real_services.redis_cluster
        )
        return [e.event_id for e in streams.get("7", [])]

    async def scenario() -> None:
        await run.create_topic()
        bridge.start()
        await produce_raw(bootstrap, run.topic, [(session.encode(), before, ())])
        await run.wait_drained(alive=[bridge])
        await add_partitions(bootstrap, run.topic, 2)
        await produce_to(bootstrap, run.topic, 1, session.encode(), after)

        async def both() -> bool:
            return await delivered() == [event_id_of(before), event_id_of(after)]

        # 30 s of metadata age, a rebalance, a fetch: well inside 90 s; 300 s before the fix.
        await run.wait_for(both, "the record on the new partition", timeout_s=90, alive=[bridge])
        await run.wait_drained(alive=[bridge])

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0
