"""FakeNotifications: sharded pub/sub in memory, held to RedisNotifications by tests/contracts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from domain.gateway.notices import Notice


class FakeNotifications:
    """Sharded pub/sub in memory: `publish(user, notice)` reaches `notify` only while the user is
    followed and its subscription confirmed (like pub/sub, a notification sent meanwhile is
    lost). Follows are confirmed by the running loop, in a batch. `disconnect()` drops the
    subscription: it subscribes again at once (unless `available` is False: then it waits for
    that) and reports every followed user `resubscribed`."""

    def __init__(self) -> None:
        self.followed: set[str] = set()
        self._confirmed: set[str] = set()
        self._waiting: dict[str, asyncio.Event] = {}
        self._queue: asyncio.Queue[tuple[str, Notice | None] | None] | None = None
        self._subscribed = False
        self._live = asyncio.Event()  # set while subscribed
        self._up = asyncio.Event()
        self._up.set()
        self.subscriptions = 0

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    async def until_subscribed(self) -> None:
        """Returns once the running loop is subscribed (a test's stand-in for readiness)."""
        await self._live.wait()

    @property
    def available(self) -> bool:
        return self._up.is_set()

    @available.setter
    def available(self, up: bool) -> None:
        if up:
            self._up.set()
        else:
            self._up.clear()
            self.disconnect()

    def follow(self, user: str) -> None:
        if user not in self.followed:
            self.followed.add(user)
            self._poke()

    def unfollow(self, user: str) -> None:
        self.followed.discard(user)
        self._confirmed.discard(user)

    async def confirmed(self, user: str) -> None:
        while user in self.followed and user not in self._confirmed:
            waiting = self._waiting.setdefault(user, asyncio.Event())
            await waiting.wait()

    async def run(
        self,
        *,
        notify: Callable[[str, Notice | None], None],
        resubscribed: Callable[[Collection[str]], None],
    ) -> None:
        while True:
            await self._up.wait()  # Redis is down: keep trying, never raise
            self._queue = asyncio.Queue()
            self._subscribed = True
            self._live.set()
            self.subscriptions += 1
            lost = set(self.followed)
            try:
                while True:
                    self._confirm(lost, resubscribed)
                    item = await self._queue.get()
                    if item is None:
                        break
                    user, notice = item
                    if user and user in self._confirmed:
                        notify(user, notice)
            finally:
                self._subscribed = False
                self._live.clear()
                self._queue = None
                self._confirmed.clear()
            await asyncio.sleep(0)  # reconnecting

    def _confirm(self, lost: set[str], resubscribed: Callable[[Collection[str]], None]) -> None:
        for user in self.followed - self._confirmed:
            self._confirmed.add(user)
            waiting = self._waiting.pop(user, None)
            if waiting is not None:
                waiting.set()
            if user in lost or waiting is None:
                lost.discard(user)
                resubscribed((user,))

    def _poke(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(("", None))

    def publish(self, user: str, notice: Notice | None) -> None:
        """What the publish script sends after writing to `user`'s stream."""
        if self._queue is not None:
            self._queue.put_nowait((user, notice))

    def disconnect(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(None)
