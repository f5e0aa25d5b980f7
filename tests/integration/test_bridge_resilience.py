"""Exactly once through crashes (SIGKILL), rebalances and a Redis outage, with real processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from simulator.local_redis import LocalRedis
from simulator.produce import produce_all
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun, messages, summed

pytestmark = pytest.mark.timeout(400)

N = 12_000
# Events keep arriving while bridges are killed or join; small batches and frequent commits
# make a kill land between commits, with work done but not committed.
SLOW = {"bridge": {"max_batch": 100, "commit_interval_s": 0.2}}
RATE = 400.0


@pytest.fixture(scope="module")
def traffic() -> list[SimRecord]:
    return generate_n(N, seed=23, users=40, bad_ratio=0.02)


def assert_exactly_once(v: object) -> None:
    from simulator.verify import Verification

    assert isinstance(v, Verification)
    assert (v.lost, v.duplicated, v.out_of_order, v.misrouted, v.unexpected) == (0, 0, 0, 0, 0), v
    assert v.delivered == v.expected_delivered
    # A crash between the DLQ write and the commit may dead-letter a record twice; never zero times.
    assert v.dlq_missing == 0
    assert v.dlq_wrong_reason == 0
    assert v.dlq_unexpected == 0


def test_a_bridge_killed_mid_run_and_restarted_delivers_everything_exactly_once(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, **SLOW)

    async def scenario() -> None:
        await run.create_topic()
        producing = run.produce_steadily(traffic, rate=RATE)
        bridges = []
        for _ in range(3):
            bridge = run.bridge()
            bridges.append(bridge)
            bridge.start()

            async def working(bridge: EventBridgeProcess = bridge) -> bool:
                return summed(bridge, "consumed") >= 300

            await run.wait_for(working, "the bridge to consume")
            bridge.kill()  # SIGKILL: no drain, no commit
            assert not producing.done(), "each kill must land while events are still arriving"
        last = run.bridge()
        bridges.append(last)
        last.start()
        try:
            assert await producing == N
            await run.wait_drained()
        finally:
            last.terminate()
        v = await run.verification(traffic)
        assert_exactly_once(v)
        print(
            f"duplicates suppressed after crashes: {sum(summed(b, 'duplicates') for b in bridges)}"
        )

    asyncio.run(scenario())


def last_join(process: EventBridgeProcess) -> dict[str, Any]:
    """The bridge's latest "kafka group joined" log line (its generation and partitions)."""
    joins = [e for e in process.log_entries() if e.get("message") == "kafka group joined"]
    assert joins, "the bridge never joined its group"
    return joins[-1]


# A dynamic member leaves the group on SIGTERM (aiokafka's LeaveGroup); a static one leaves
# only when told it is gone for good, and with a session this long the test would time out
# waiting for the partitions to come back if it did not.
MEMBERSHIPS = [
    pytest.param({"group_instance_id": "none"}, id="dynamic"),
    pytest.param(
        {"leave_group_on_shutdown": True, "session_timeout_ms": 120_000}, id="static-scale-down"
    ),
]


@pytest.mark.parametrize("membership", MEMBERSHIPS)
def test_a_second_bridge_joining_and_leaving_mid_run_loses_and_duplicates_nothing(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    traffic: list[SimRecord],
    membership: dict[str, Any],
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, **SLOW, kafka=membership)

    async def scenario() -> None:
        await run.create_topic()
        producing = run.produce_steadily(traffic, rate=RATE)
        first, second = run.bridge(replica=0), run.bridge(replica=1)
        first.start()
        try:

            async def first_working() -> bool:
                return summed(first, "consumed") >= 300

            await run.wait_for(first_working, "the first bridge to consume")
            second.start()

            async def second_working() -> bool:
                return summed(second, "consumed") >= 300

            await run.wait_for(
                second_working, "the second bridge to receive partitions and consume"
            )
            assert second.terminate() == 0  # leaves the group: its partitions go back
            assert not producing.done(), "the join and the leave must happen mid-run"

            async def first_holds_all() -> bool:
                return len(last_join(first)["partitions"]) == run.partitions

            await run.wait_for(first_holds_all, "the partitions to come back", timeout_s=60)
            assert await producing == N
            await run.wait_drained()
        finally:
            code = first.terminate()
            second.terminate()
        assert code == 0
        assert "partitions revoked" in messages(first)
        if "leave_group_on_shutdown" in membership:
            assert "left the group for good" in messages(second)
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(scenario())


OUTAGE = {
    "bridge": {"max_batch": 200, "commit_interval_s": 0.2, "retry_backoff_s": 0.2},
    "circuit_breaker": {"window_s": 5, "minimum_calls": 2, "cool_down_s": 1.5},
    "redis": {"socket_timeout_s": 0.5, "connect_timeout_s": 0.5},
}


def _local_redis(services: Services) -> LocalRedis:
    if services.redis is None:
        pytest.skip("needs a Redis this test started itself (REDIS_URL points elsewhere)")
    return services.redis


async def through_an_outage(
    run: BridgeRun,
    redis: LocalRedis,
    traffic: list[SimRecord],
    while_down: Callable[[EventBridgeProcess], Awaitable[None]],
) -> EventBridgeProcess:
    """The first half delivered; Redis stopped; the second half produced and `while_down`
    awaited; Redis back and everything committed. Returns the bridge, stopped cleanly."""
    half = N // 2
    await run.create_topic()
    await produce_all(run.services.kafka_bootstrap, run.topic, traffic[:half])
    bridge = run.bridge()
    bridge.start()
    try:
        await run.wait_drained()
        redis.stop()
        try:
            await produce_all(run.services.kafka_bootstrap, run.topic, traffic[half:])
            await while_down(bridge)
        finally:
            redis.start()
        await run.wait_drained()
    finally:
        code = bridge.terminate()
    assert code == 0
    return bridge


def test_under_pause_a_redis_outage_pauses_probes_resumes_and_loses_nothing(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    redis = _local_redis(real_services)
    run = BridgeRun(real_services, unique, tmp_path, **OUTAGE)

    async def paused_and_probed(bridge: EventBridgeProcess) -> None:
        async def seen() -> bool:
            log = messages(bridge)
            return "partitions paused" in log and log.count("breaker open -> half_open") >= 2

        # Down for more than one cool-down: the breaker probes on its timer and re-opens.
        await run.wait_for(seen, "pause and two timed probes", timeout_s=60)
        assert await run.backlog() > 0

    async def scenario() -> None:
        bridge = await through_an_outage(run, redis, traffic, paused_and_probed)
        log = messages(bridge)
        assert "breaker closed -> open" in log
        assert "breaker half_open -> open" in log
        assert "breaker half_open -> closed" in log
        assert "partitions resumed" in log
        assert summed(bridge, "dropped") == 0
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(scenario())


def test_under_drop_a_redis_outage_keeps_consuming_and_counts_every_event_it_dropped(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    redis = _local_redis(real_services)
    settings = {**OUTAGE, "circuit_breaker": {**OUTAGE["circuit_breaker"], "policy": "drop"}}
    run = BridgeRun(real_services, unique, tmp_path, **settings)

    async def rest_dropped(bridge: EventBridgeProcess) -> None:
        # Only the batch whose write failed waits for Redis; everything after it is
        # consumed, dropped and counted while Redis is still down.
        batch = OUTAGE["bridge"]["max_batch"]

        async def consumed_but_one_batch_and_opened() -> bool:
            opened = "breaker closed -> open" in messages(bridge)
            return opened and summed(bridge, "consumed") >= N - batch

        await run.wait_for(
            consumed_but_one_batch_and_opened, "the breaker to open and the rest to be dropped"
        )
        assert summed(bridge, "dropped") > 0

    async def scenario() -> None:
        bridge = await through_an_outage(run, redis, traffic, rest_dropped)
        v = await run.verification(traffic)
        dropped = summed(bridge, "dropped")
        assert dropped > 0
        assert v.duplicated == 0
        assert v.misrouted == 0
        # Owner-less events cannot be told from orphans while Redis (the owner index) is down,
        # so orphans met during the outage are dropped too, instead of dead-lettered.
        assert set(v.dlq_missing_by_reason) <= {"no_user"}
        assert v.lost + v.dlq_missing == dropped, (v.lost, v.dlq_missing, dropped)
        assert "breaker half_open -> closed" in messages(bridge)

    asyncio.run(scenario())
