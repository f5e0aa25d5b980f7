"""The bridge against real Kafka and Redis: exactly once, through crashes and rebalances."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from simulator.produce import produce_all
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun, summed

pytestmark = pytest.mark.timeout(300)

N = 10_000


@pytest.fixture(scope="module")
def traffic() -> list[SimRecord]:
    return generate_n(N, seed=11, users=60, bad_ratio=0.03)


def test_every_valid_event_lands_once_in_order_and_every_malformed_one_in_the_dlq(
    real_services: Services, unique: str, tmp_path: Path, traffic: list[SimRecord]
) -> None:
    run = BridgeRun(real_services, unique, tmp_path)
    kinds = {r.expect.kind for r in traffic}
    assert {
        "foreign_user",
        "agent_proposal",
        "bad_json",
        "invalid_utf8",
        "oversized",
        "orphan_agent",
    } <= kinds

    async def scenario() -> None:
        await run.create_topic()
        await produce_all(real_services.kafka_bootstrap, run.topic, traffic)
        bridge = run.bridge()
        bridge.start()
        try:
            await run.wait_drained()
        finally:
            code = bridge.terminate()
        assert code == 0
        v = await run.verification(traffic)
        print(v.__dict__ | {"lost_ids": v.lost_ids[:3]})
        assert v.expected_delivered > 8000
        assert (v.lost, v.duplicated, v.out_of_order, v.misrouted, v.unexpected) == (0, 0, 0, 0, 0)
        assert v.delivered == v.expected_delivered
        assert v.dlq_exact, v
        assert v.dead_lettered == v.expected_invalid
        assert summed(bridge, "consumed") == N
        assert summed(bridge, "ignored") == v.expected_ignored

    asyncio.run(scenario())
