"""Static membership with real bridge processes: a bridge SIGKILLed (or SIGTERMed) and started
again with the same group.instance.id takes its own partitions back in the same generation,
and the other bridge never loses its own; without an instance id the group rebalances, as
before. Nothing is lost or duplicated either way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun, messages, summed
from tests.integration.test_bridge_resilience import assert_exactly_once

pytestmark = pytest.mark.timeout(300)

# Traffic flows until the scenario is over (however long a loaded machine makes it), N at most.
N, RATE = 30_000, 300.0
# The default session of a static member (30 s): a restart well within it.
STATIC = {"session_timeout_ms": 30_000, "heartbeat_interval_ms": 1000}
DYNAMIC = {"group_instance_id": "none", "session_timeout_ms": 6000}


def joins(process: EventBridgeProcess) -> list[dict[str, Any]]:
    return [e for e in process.log_entries() if e.get("message") == "kafka group joined"]


@pytest.fixture(scope="module")
def traffic() -> list[SimRecord]:
    return generate_n(N, seed=41, users=30, bad_ratio=0.02)


class Live:
    """Traffic flowing into the run's topic until `delivered` stops it, and the bridges."""

    def __init__(self, run: BridgeRun, traffic: list[SimRecord]) -> None:
        self.run, self.traffic = run, traffic
        self.stop = asyncio.Event()
        self.producing = run.produce_steadily(traffic, rate=RATE, stop=self.stop)
        self.bridges: list[EventBridgeProcess] = []

    async def delivered(self, alive: list[EventBridgeProcess]) -> list[SimRecord]:
        """Stops the traffic, waits until `alive` committed all of it; what was produced."""
        assert not self.producing.done(), "the crashes and restarts must happen mid-run"
        self.stop.set()
        produced = await self.producing
        await self.run.wait_drained(alive=alive)
        return self.traffic[:produced]


@contextlib.asynccontextmanager
async def under_traffic(run: BridgeRun, traffic: list[SimRecord]) -> AsyncIterator[Live]:
    """The traffic flowing and replicas 0 and 1 working; every bridge in `bridges` is
    stopped at the end."""
    await run.create_topic()
    live = Live(run, traffic)
    try:
        await two_bridges_working(run, live.bridges)
        yield live
    finally:
        live.producing.cancel()
        for bridge in live.bridges:
            bridge.terminate()


async def two_bridges_working(run: BridgeRun, started: list[EventBridgeProcess]) -> None:
    """Replica 0, then replica 1 (added to `started`), both consuming, in the generation that
    split the partitions."""
    first, second = run.bridge(replica=0), run.bridge(replica=1)
    started += [first, second]
    first.start()

    async def first_working() -> bool:
        return summed(first, "consumed") >= 200

    await run.wait_for(first_working, "the first bridge to consume", alive=[first])
    second.start()

    async def split() -> bool:
        a, b = joins(first), joins(second)
        return (
            bool(a and b)
            and a[-1]["generation"] == b[-1]["generation"]
            and (summed(second, "consumed") >= 100)
        )

    await run.wait_for(split, "both bridges in one generation", alive=[first, second])


async def restarted(run: BridgeRun, bridges: list[EventBridgeProcess]) -> EventBridgeProcess:
    """Replica 0 started again (kept in `bridges`, to be stopped), once it consumes."""
    bridge = run.bridge(replica=0)
    bridges.append(bridge)
    bridge.start()

    async def working() -> bool:
        return summed(bridge, "consumed") >= 100

    await run.wait_for(working, "the restarted bridge to consume", alive=[bridge])
    return bridge


def test_a_static_bridge_killed_or_stopped_and_restarted_takes_its_partitions_back_in_place(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, kafka=STATIC)

    async def scenario() -> None:
        async with under_traffic(run, traffic) as live:
            first, second = live.bridges
            before = joins(first)[-1]
            assert before["group_instance_id"] is not None
            assert before["group_instance_id"] != joins(second)[-1]["group_instance_id"]
            second_joins = len(joins(second))
            first.kill()  # a crash: no drain, no commit, no LeaveGroup
            again = await restarted(run, live.bridges)
            assert again.terminate() == 0  # a rolling restart: drained, committed, still a member
            last = await restarted(run, live.bridges)
            produced = await live.delivered(alive=[second, last])
        for bridge in (again, last):
            [join] = joins(bridge)
            assert join["generation"] == before["generation"], "the group did not rebalance"
            assert join["partitions"] == before["partitions"]
            assert join["group_instance_id"] == before["group_instance_id"]
        # The other bridge kept its partitions all along: never revoked, never joined again.
        assert len(joins(second)) == second_joins
        assert "partitions revoked" not in messages(second)
        assert_exactly_once(await run.verification(produced))

    asyncio.run(scenario())


def test_without_an_instance_id_a_restarted_bridge_joins_a_new_generation_and_loses_nothing(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, kafka=DYNAMIC)

    async def scenario() -> None:
        async with under_traffic(run, traffic) as live:
            first, second = live.bridges
            before = joins(first)[-1]
            assert before["group_instance_id"] is None
            first.kill()
            again = await restarted(run, live.bridges)
            produced = await live.delivered(alive=[second, again])
        assert joins(again)[0]["generation"] > before["generation"]
        assert "partitions revoked" in messages(second)
        assert_exactly_once(await run.verification(produced))

    asyncio.run(scenario())


def test_a_bridge_whose_instance_id_another_bridge_took_stops_naming_the_setting(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    twin = {**STATIC, "group_instance_id": f"twin-{unique}"}
    run = BridgeRun(real_services, unique, tmp_path, kafka=twin)

    async def scenario() -> None:
        await run.create_topic()
        producing = run.produce_steadily(traffic[:3000], rate=RATE)
        first, second = run.bridge(), run.bridge()  # a misconfiguration: the same id twice
        first.start()
        try:

            async def first_working() -> bool:
                return summed(first, "consumed") >= 100

            await run.wait_for(first_working, "the first bridge to consume", alive=[first])
            second.start()

            async def one_stopped() -> bool:
                return not (first.running and second.running)

            await run.wait_for(one_stopped, "a bridge to stop", timeout_s=120)
        finally:
            producing.cancel()
            codes = [first.terminate(), second.terminate()]
        stopped = [b for b, code in zip((first, second), codes, strict=True) if code != 0]
        assert stopped, codes
        for bridge in stopped:
            logged = bridge.log.read_text(errors="replace")
            assert f"group.instance.id 'twin-{unique}' was taken over" in logged
            assert "kafka.instance_ordinal" in logged

    asyncio.run(scenario())
