"""Readiness tells the truth: not ready when Redis does not answer, the breaker is not closed,
the dead letters fail, records wait with nothing finished, or no partition is assigned."""

from __future__ import annotations

import asyncio

import pytest

from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from domain.breaker import BreakerPolicy, CircuitBreaker
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


def steps(bridge: BridgeService, n: int, clock: FakeClock, every_s: float = 0.0) -> None:
    async def go() -> None:
        for _ in range(n):
            clock.advance(every_s)
            await bridge.step()

    asyncio.run(go())


def test_a_bridge_whose_dead_letters_fail_is_not_ready_and_stalled_once_it_waited_stall_s() -> None:
    clock = FakeClock()
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    bridge = bridge_over_fakes(clock, source, store=store, dead_letters=dlq)
    source.append(P, b"k", b"{warm-up")
    steps(bridge, 2, clock)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60, stall_s=30))
    assert (ok, body["reasons"], body["stalled_s"]) == (True, [], 0.0)

    dlq.available = False
    source.append(P, b"k", b"{stuck")
    steps(bridge, 3, clock, every_s=1)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60, stall_s=30))
    assert (ok, body["reasons"]) == (False, ["dead_letters_unavailable"])
    assert "fake DLQ is down" in body["dead_letters"]["error"]
    assert body["backlog"] == 1
    assert body["backlog_bytes"] == len(b"k{stuck")
    steps(bridge, 40, clock, every_s=1)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60, stall_s=30))
    assert (ok, body["reasons"]) == (False, ["dead_letters_unavailable", "stalled"])
    assert body["stalled_s"] > 30

    dlq.available = True
    steps(bridge, 31, clock, every_s=1)  # the tries backed off to retry_backoff_max_s (30 s)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60, stall_s=30))
    assert (ok, body["reasons"], body["backlog"], body["dead_letters"]) == (
        True, [], 0, {"error": None}
    )  # fmt: skip
    assert source.committed[P] == 2


def test_an_idle_bridge_is_never_stalled_however_long_nothing_came() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    bridge = bridge_over(clock, source, store)
    steps(bridge, 5, clock, every_s=100)
    source.append(P, b"k", b"{late")
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60, stall_s=30))
    assert (ok, body["stalled_s"]) == (True, 0.0)


def test_a_bridge_whose_breaker_is_open_is_not_ready_until_it_closed() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    breaker = CircuitBreaker(BreakerPolicy(minimum_calls=1, cool_down_s=5))
    bridge = bridge_over_fakes(clock, source, store=store, breaker=breaker)
    for r in generate_n(10, seed=5, users=2, bad_ratio=0.0, clock=clock.wall):
        source.append(P, r.key, r.value, r.headers)
    store.available = False
    steps(bridge, 2, clock)
    store.available = True  # Redis answers pings again, but the breaker has not probed yet
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert (ok, body["reasons"]) == (False, ["breaker_open"])
    steps(bridge, 10, clock, every_s=1)
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert (ok, body["reasons"], body["circuit_breaker"]["state"]) == (True, [], "closed")


def test_a_bridge_on_a_redis_that_evicts_is_not_ready_and_names_the_policy() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    bridge = bridge_over(clock, source, store)
    asyncio.run(bridge.step())
    ok, body = asyncio.run(
        readiness(bridge.health(), store, no_assignment_grace_s=60, evicting="allkeys-lru")
    )
    assert (ok, body["reasons"]) == (False, ["redis_evicts"])
    assert body["redis"] == {"reachable": True, "evicting_policy": "allkeys-lru"}
    ok, body = asyncio.run(readiness(bridge.health(), store, no_assignment_grace_s=60))
    assert (ok, body["redis"]["evicting_policy"]) == (True, None)
