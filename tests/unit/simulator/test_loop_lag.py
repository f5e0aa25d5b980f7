"""The load runner watches its own event loop, so its share of a latency can be told apart."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from simulator.loop_lag import LoopLag, cyclic_gc_paused

pytestmark = pytest.mark.unit


class NotedSamples(list[float]):
    """The samples, with an event set as each one comes."""

    def __init__(self) -> None:
        super().__init__()
        self.added = asyncio.Event()

    def append(self, value: float) -> None:
        super().append(value)
        self.added.set()

    async def next_one(self) -> None:
        self.added.clear()
        await self.added.wait()


def test_the_watch_samples_until_stopped_and_sees_a_blocked_loop() -> None:
    samples = NotedSamples()
    lag = LoopLag(samples_ms=samples)

    async def scenario() -> None:
        stop = asyncio.Event()
        watching = asyncio.create_task(lag.watch(stop))
        await samples.next_one()  # the watch is sleeping its next tick now
        time.sleep(0.3)  # noqa: ASYNC251 - the point: the loop is blocked, as by a busy runner
        await samples.next_one()
        stop.set()
        await asyncio.wait_for(watching, timeout=5)

    asyncio.run(scenario())
    # The tick that slept through the block woke at least 300 ms after it was asked for.
    assert max(samples) >= 280
    q = lag.quantiles()
    assert q is not None
    assert set(q) == {"p50", "p95", "p99", "max"}
    assert q["max"] == max(samples)  # a rare stall shows in the max even when p99 hides it
    assert LoopLag().quantiles() is None


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_cyclic_collector_is_off_while_traffic_runs_and_collects_after() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's view
        Cycle()  # garbage only the cyclic collector can free
        left = sum(isinstance(o, Cycle) for o in gc.get_objects())
        assert left == 1
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert not any(isinstance(o, Cycle) for o in gc.get_objects())  # collected on the way out


def test_the_collector_is_on_again_when_the_traffic_fails() -> None:
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("the run failed")
    assert gc.isenabled()
