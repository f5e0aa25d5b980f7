"""Static membership with real bridge processes: a bridge SIGKILLed (or SIGTERMed) and started
again with the same group.instance.id takes its own partitions back in the same generation,
and the other bridge never loses its own; without an instance id the group rebalances, as
before. Nothing is lost or duplicated either way."""

from __future__ import annotations

import asyncio
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

N, RATE = 8_000, 300.0
# The default session of a static member (30 s): a restart well within it.
STATIC = {"session_timeout_ms": 30_000, "heartbeat_interval_ms": 1000}
DYNAMIC = {"group_instance_id": "none", "session_timeout_ms": 6000}


def joins(process: EventBridgeProcess) -> list[dict[str, Any]]:
    return [e for e in process.log_entries() if e.get("message") == "kafka group joined"]


@pytest.fixture(scope="module")
def traffic() -> list[SimRecord]:
    return generate_n(N, seed=41, users=30, bad_ratio=0.02)


async def two_bridges_working(run: BridgeRun) -> tuple[EventBridgeProcess, EventBridgeProcess]:
    """Replica 0, then replica 1, both consuming, in the generation that split the partitions."""
    first, second = run.bridge(replica=0), run.bridge(replica=1)
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
    return first, second


async def back_at_work(run: BridgeRun, bridge: EventBridgeProcess) -> None:
    async def working() -> bool:
        return summed(bridge, "consumed") >= 100

    await run.wait_for(working, "the restarted bridge to consume", alive=[bridge])


def test_a_static_bridge_killed_or_stopped_and_restarted_takes_its_partitions_back_in_place(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, kafka=STATIC)

    async def scenario() -> None:
        await run.create_topic()
        producing = run.produce_steadily(traffic, rate=RATE)
        first, second = await two_bridges_working(run)
        bridges = [first, second]
        try:
            before = joins(first)[-1]
            assert before["group_instance_id"] is not None
            assert before["group_instance_id"] != joins(second)[-1]["group_instance_id"]
            second_joins = len(joins(second))
            first.kill()  # a crash: no drain, no commit, no LeaveGroup
            again = run.bridge(replica=0)
            bridges.append(again)
            again.start()
            await back_at_work(run, again)
            assert again.terminate() == 0  # a rolling restart: drained, committed, still a member
            last = run.bridge(replica=0)
            bridges.append(last)
            last.start()
            await back_at_work(run, last)
            assert not producing.done(), "the crash and the restart must happen mid-run"
            assert await producing == N
            await run.wait_drained(alive=[second, last])
        finally:
            for bridge in bridges:
                bridge.terminate()
        for restarted in (again, last):
            [join] = joins(restarted)
            assert join["generation"] == before["generation"], "the group did not rebalance"
            assert join["partitions"] == before["partitions"]
            assert join["group_instance_id"] == before["group_instance_id"]
        # The other bridge kept its partitions all along: never revoked, never joined again.
        assert len(joins(second)) == second_joins
        assert "partitions revoked" not in messages(second)
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(scenario())


def test_without_an_instance_id_a_restarted_bridge_joins_a_new_generation_and_loses_nothing(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, kafka=DYNAMIC)

    async def scenario() -> None:
        await run.create_topic()
        producing = run.produce_steadily(traffic, rate=RATE)
        first, second = await two_bridges_working(run)
        bridges = [first, second]
        try:
            before = joins(first)[-1]
            assert before["group_instance_id"] is None
            first.kill()
            again = run.bridge(replica=0)
            bridges.append(again)
            again.start()
            await back_at_work(run, again)
            assert not producing.done(), "the crash and the restart must happen mid-run"
            assert await producing == N
            await run.wait_drained(alive=[second, again])
        finally:
            for bridge in bridges:
                bridge.terminate()
        assert joins(again)[0]["generation"] > before["generation"]
        assert "partitions revoked" in messages(second)
        assert_exactly_once(await run.verification(traffic))

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
