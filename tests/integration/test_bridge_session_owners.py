"""First owner wins, across bridges: a bridge learns an owner only from the shared index."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from simulator.services import Services
from simulator.verify import read_streams
from tests.integration.bridge_env import BridgeRun
from tests.integration.raw_events import agent_event, command_event, event_id_of, produce_raw

pytestmark = pytest.mark.timeout(180)


async def deliver(run: BridgeRun, *values: bytes, session: str) -> None:
    """Produce `values` (key: the session) and run a bridge until it committed them all."""
    await produce_raw(
        run.services.kafka_bootstrap, run.topic, [(session.encode(), v, ()) for v in values]
    )
    await run.run_until_drained()


def the_attack(session: str) -> tuple[bytes, bytes, bytes]:
    """B's command for S (the index learns S is B's), A's command for S, an agent event for S."""
    return command_event(session, "B"), command_event(session, "A"), agent_event(session)


def test_a_restarted_bridge_routes_an_agent_event_to_the_owner_the_index_knows(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    """The index says S belongs to B; after a restart (an empty memory) the bridge meets A's
    command for S, then an agent's event for S without a user id: it is B's."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    first, foreign, agent = the_attack(session)

    async def scenario() -> None:
        await run.create_topic()
        await deliver(run, first, session=session)  # the first bridge process
        await deliver(run, foreign, agent, session=session)  # the restarted one
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["B"]] == [event_id_of(first), event_id_of(agent)]
        assert [e.event_id for e in streams["A"]] == [event_id_of(foreign)]

    asyncio.run(scenario())


def test_two_bridges_over_one_redis_never_route_an_agent_event_to_a_later_claimant(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    """Two bridge services (their own topics and groups) share the Redis index; the second
    sees A's command and the agent's event in batches of one, so the claim is made across
    batches, while its own publish of A's command is still the only thing naming S."""
    one = BridgeRun(real_services, unique, tmp_path / "one", partitions=1)
    two = BridgeRun(
        real_services,
        f"{unique}b",
        tmp_path / "two",
        partitions=1,
        redis=one.settings["redis"],
        bridge={"max_batch": 1},
    )
    two.prefix = one.prefix
    session = str(uuid.uuid4())
    first, foreign, agent = the_attack(session)

    async def scenario() -> None:
        await one.create_topic()
        await two.create_topic()
        bridges = [one.bridge(), two.bridge()]
        for bridge in bridges:
            bridge.start()
        try:
            key = session.encode()
            await produce_raw(real_services.kafka_bootstrap, one.topic, [(key, first, ())])
            await one.wait_drained(timeout_s=60, alive=bridges)
            await produce_raw(
                real_services.kafka_bootstrap, two.topic, [(key, foreign, ()), (key, agent, ())]
            )
            await two.wait_drained(timeout_s=60, alive=bridges)
        finally:
            for bridge in bridges:
                bridge.terminate()
        streams = await read_streams(real_services.redis_url, one.prefix)
        assert [e.event_id for e in streams["B"]] == [event_id_of(first), event_id_of(agent)]
        assert [e.event_id for e in streams["A"]] == [event_id_of(foreign)]

    asyncio.run(scenario())
