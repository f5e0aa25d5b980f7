"""FakeClock: the Clock port for tests, moved only by the test (or by what sleeps on it)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any


class FakeClock:
    """A clock that moves only when told to; a `deadline` scope expires when the clock is moved
    to or past it. `sleep` moves the clock itself, unless `sleeps_wait`: then a sleeper waits
    until the test moves the clock far enough (for loops that sleep between rounds)."""

    def __init__(self, start: datetime | None = None, *, sleeps_wait: bool = False) -> None:
        self._mono = 1000.0
        self._wall = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        self._deadlines: set[_FakeDeadline] = set()
        self._sleeps_wait = sleeps_wait

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)
        for due in [d for d in self._deadlines if d.at <= self._mono]:
            self._deadlines.discard(due)
            due.expire()

    async def sleep(self, seconds: float) -> None:
        if not self._sleeps_wait:
            self.advance(max(0.0, seconds))
            return
        with contextlib.suppress(TimeoutError):
            async with self.deadline(self._mono + seconds):
                await asyncio.Event().wait()

    def unix(self) -> float:
        return self._wall.timestamp()

    def deadline(self, at: float) -> AbstractAsyncContextManager[object]:
        return _FakeDeadline(self, at)


class _FakeDeadline:
    """`asyncio.timeout` whose expiry is decided by a FakeClock instead of the event loop."""

    def __init__(self, clock: FakeClock, at: float) -> None:
        self._clock = clock
        self.at = at
        self._timeout = asyncio.timeout(None)

    async def __aenter__(self) -> _FakeDeadline:
        await self._timeout.__aenter__()
        if self.at <= self._clock.monotonic():
            self.expire()
        else:
            self._clock._deadlines.add(self)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._clock._deadlines.discard(self)
        await self._timeout.__aexit__(*exc)

    def expire(self) -> None:
        # Cancels the task inside the scope at its next await; __aexit__ makes it TimeoutError.
        self._timeout.reschedule(asyncio.get_running_loop().time())
