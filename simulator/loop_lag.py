"""How late the load runner's own event loop runs: its share of what a browser's latency shows."""

from __future__ import annotations

import asyncio
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
        return {f"p{q}": percentile(self.samples_ms, q) for q in (50, 95, 99)}
