"""One hostile record against a real bridge process: it is dead-lettered, the bridge lives on."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from simulator.services import Services
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun, summed
from tests.integration.raw_events import (
    agent_event,
    command_event,
    event_id_of,
    flat_event,
    produce_raw,
)

pytestmark = pytest.mark.timeout(180)


def deeply_nested_event_type(session: str, depth: int = 1000) -> bytes:
    """Valid JSON of about 2 KB whose `event_type` is an array nested `depth` deep."""
    value = flat_event(session, [], {"source": "api-gateway", "user_id": "7"})
    return value.replace(b'"event_type":[]', b'"event_type":' + b"[" * depth + b"]" * depth)


def test_a_record_nested_a_thousand_deep_is_dead_lettered_and_its_neighbours_delivered_once(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    poison = deeply_nested_event_type(session)
    assert 2000 < len(poison) < 2500
    before, after = command_event(session, "7"), agent_event(session)
    key = session.encode()

    async def scenario() -> None:
        await run.create_topic()
        await produce_raw(
            real_services.kafka_bootstrap,
            run.topic,
            [(key, before, ()), (key, poison, ()), (key, after, ())],
        )
        await run.run_until_drained()  # alive throughout: it fails at once if the bridge exits
        dlq = await read_topic(real_services.kafka_bootstrap, run.dlq_topic)
        assert [value for value, _ in dlq] == [poison]
        [(_, headers)] = dlq
        assert headers["dlq.reason"] == b"bad_event_type"
        assert len(headers["dlq.message"]) < 300
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(before), event_id_of(after)]

    asyncio.run(scenario())


def test_a_producer_duplicate_inside_one_batch_is_published_once_and_counted_once(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    value, key = command_event(session, "7"), session.encode()

    async def scenario() -> None:
        await run.create_topic()
        await produce_raw(real_services.kafka_bootstrap, run.topic, [(key, value, ())] * 2)
        bridge = await run.run_until_drained()
        assert (summed(bridge, "published"), summed(bridge, "duplicates")) == (1, 1)
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(value)]

    asyncio.run(scenario())


def test_a_user_whose_stream_key_redis_refuses_is_dead_lettered_and_the_batch_goes_on(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    """A deterministic refusal of one user's write (WRONGTYPE: something else holds the key)
    must not become an endless retry of the whole batch for every user."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    values = [command_event(mine, "7"), command_event(theirs, "13"), agent_event(mine)]

    async def scenario() -> None:
        client = aioredis.Redis.from_url(real_services.redis_url)
        await client.set(f"{run.prefix}{{13}}:stream", "not a stream")
        await run.create_topic()
        await produce_raw(
            real_services.kafka_bootstrap,
            run.topic,
            [(s.encode(), v, ()) for s, v in zip((mine, theirs, mine), values, strict=True)],
        )
        bridge = await run.run_until_drained()
        [(value, headers)] = await read_topic(real_services.kafka_bootstrap, run.dlq_topic)
        assert value == values[1]
        assert headers["dlq.reason"] == b"internal_error"
        assert b"WRONGTYPE" in headers["dlq.message"]
        await client.delete(f"{run.prefix}{{13}}:stream")  # read_streams reads streams only
        await client.aclose()
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [
            event_id_of(values[0]),
            event_id_of(values[2]),
        ]
        assert summed(bridge, "dead_lettered") == 1

    asyncio.run(scenario())
