"""The load runner watches its own event loop, so its share of a latency can be told apart."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator.loop_lag import LoopLag

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
    assert set(q) == {"p50", "p95", "p99"}
    assert LoopLag().quantiles() is None
