"""SystemClock: the real clocks behind the Clock port."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime


class SystemClock:
    """time.monotonic for intervals, UTC wall time for timestamps, asyncio for waits; the one
    place that reads the system's clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def unix(self) -> float:
        return time.time()

    def deadline(self, at: float) -> AbstractAsyncContextManager[object]:
        # Relative to now, so it holds whatever clock the running event loop keeps.
        return asyncio.timeout(at - time.monotonic())
