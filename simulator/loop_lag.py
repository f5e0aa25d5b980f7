"""How late the load runner's own event loop runs: its share of what a browser's latency shows."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from simulator.load_report import percentile

TICK_S = 0.02


@dataclass
class LoopLag:
    """Samples how much later than asked a `TICK_S` sleep wakes up (ms). The same loop stamps
    every SSE frame's receipt: a frame that arrives while the loop is busy is stamped that
    much late, so a lag near the latency means the runner, not EventBridge, is slow."""

    samples_ms: list[float] = field(default_factory=list)

    async def watch(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            asked = loop.time()
            await asyncio.sleep(TICK_S)  # the measurement itself: a sleep's overshoot
            self.samples_ms.append(max(0.0, (loop.time() - asked - TICK_S) * 1000))

    def quantiles(self) -> dict[str, float] | None:
        if not self.samples_ms:
            return None
        lag = {f"p{q}": percentile(self.samples_ms, q) for q in (50, 95, 99)}
        return lag | {"max": max(self.samples_ms)}


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The runner's cyclic garbage collector off while traffic runs, and on again after.

    The runner keeps every event it sent, every acknowledgement and every receipt (tens of
    thousands of objects a run, ~55,000 at 1,000 ev/s for 20 s), so each full collection walks
    them all: measured at 1,000 ev/s, 200 users, the runner stopped for 100-240 ms about every
    10 s, and the ~200 events sent or received meanwhile were stamped that much late — most of
    the p99 the sweep reported for the product (docs/benchmarks.md, "The runner's own pauses").
    What it holds has no reference cycles to collect (lists of tuples, dataclasses), so
    reference counting frees what is dropped; the objects of start-up are frozen out of the
    collector's view, and a full collection runs once afterwards."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()
