"""Signal: an asyncio.Event for a single waiter, at a fraction of its memory."""

from __future__ import annotations

import asyncio


class Signal:
    """Set, clear and wait like asyncio.Event, for one waiter at a time. An Event keeps a deque
    of waiters (about 1.1 KiB with its dict), and a gateway holds three per idle connection:
    its follow loop's wake-up, its writer's and its outbox's room. Each of those has exactly
    one waiter, so a single future serves."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        """Return once set (at once if it is); cancelling the wait leaves the signal as it is.
        A second waiter at the same time is a bug: RuntimeError."""
        if self._set:
            return
        if self._waiter is not None:
            raise RuntimeError("a Signal has one waiter at a time")
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None
