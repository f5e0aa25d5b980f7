"""Readiness: not ready when Redis does not answer or no partition is assigned for too long."""

from __future__ import annotations

import asyncio

import pytest

from application.bridge import BridgeService
from application.fakes import FakeClock, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from domain.model import Partition
from eventbridge.health import readiness
from simulator.genesis import generate_n
from tests.bridge_over_fakes import bridge_over_fakes

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)


def bridge_over(clock: FakeClock, source: FakeEventSource, store: FakeStreamStore) -> BridgeService:
    return bridge_over_fakes(clock, source, store=store, policy=BridgePolicy(max_batch=100))


def test_health_reports_counters_success_rate_lag_and_readiness() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    for r in generate_n(30, seed=4, users=2, bad_ratio=0.1, clock=clock.wall):
        source.append(P, r.key, r.value, r.headers)
    bridge = bridge_over(clock, source, store)

    async def one_batch() -> None:
        await bridge.step()
        await bridge.settle()

    asyncio.run(one_batch())
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    counters = body["counters"]
    assert counters["consumed"] == 30
    assert counters["consumed"] == (
        counters["published"] + counters["duplicates"] + counters["ignored"]
        + counters["invalid"] + counters["dropped"]
    )  # fmt: skip
    assert counters["invalid"] == counters["dead_lettered"]
    assert body["circuit_breaker"] == {"state": "closed", "failure_rate": 0.0}
    assert body["publish_success_rate"] == 1.0
    assert set(body) >= {"lag", "partitions", "redis", "status", "reasons"}

    store.available = False
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert (ok, body["status"], body["reasons"]) == (False, "not_ready", ["redis_unreachable"])


def test_a_bridge_without_assignment_for_longer_than_the_grace_is_not_ready() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    bridge = bridge_over(clock, source, store)
    asyncio.run(source.revoke([P]))
    ok, _ = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert ok
    clock.advance(61)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert (ok, body["reasons"]) == (False, ["no_assignment"])


def test_before_the_bridge_exists_readiness_says_starting() -> None:
    ok, body = asyncio.run(readiness(None, None, no_assignment_grace_s=60))
    assert (ok, body["status"]) == (False, "starting")
