"""A session-owner key Redis refuses to read or claim (WRONGTYPE: something else wrote it) is
that session's problem, never a stall of every partition (SPEC §15): its owner-less events are
dead-lettered, the rest flow, and the breaker does not count it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from simulator.services import Services
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun, messages
from tests.integration.raw_events import agent_event, command_event, event_id_of, produce_raw

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("path", ["lookup", "claim"])
def test_an_owner_key_of_another_type_dead_letters_its_sessions_events_and_the_rest_flow(
    real_services: Services, unique: str, tmp_path: Path, path: str
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    poisoned, other = str(uuid.uuid4()), str(uuid.uuid4())
    # lookup: an owner-less event of the session asks the index (GET); claim: the user's own
    # command, then an agent event of the same batch, claims the session (SET NX GET).
    mine = [agent_event(poisoned)]
    if path == "claim":
        mine.insert(0, command_event(poisoned, "7"))
    theirs = [command_event(other, "13"), command_event(other, "13")]
    records = [
        (other.encode(), theirs[0], ()),
        *((poisoned.encode(), value, ()) for value in mine),
        (other.encode(), theirs[1], ()),
    ]

    async def scenario() -> None:
        client = aioredis.Redis.from_url(real_services.redis_url)
        await client.rpush(f"t{unique}:session:{{{poisoned}}}:owner", "not a string")
        await client.aclose()
        await run.create_topic()
        await produce_raw(real_services.kafka_bootstrap, run.topic, records)
        bridge = await run.run_until_drained(timeout_s=60)
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["13"]] == [event_id_of(v) for v in theirs]
        assert [e.event_id for e in streams.get("7", [])] == [event_id_of(v) for v in mine[:-1]]
        letters = await read_topic(real_services.kafka_bootstrap, run.dlq_topic)
        assert [v for v, _ in letters] == [mine[-1]]
        [(_, headers)] = letters
        assert headers["dlq.reason"] == b"internal_error"
        assert b"WRONGTYPE" in headers["dlq.message"]
        assert "redis unavailable" not in messages(bridge)

    asyncio.run(scenario())
