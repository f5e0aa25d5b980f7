"""The connections of one gateway process by user: whose notifications it follows, who gets one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterator
from typing import Generic, Protocol, TypeVar

from application.gateway.counts import GatewayCounts
from domain.gateway.notices import Notice, NoticeKind


class Listener(Protocol):
    """A connection: `notify` hands it a notification (it decides: direct write, read, or
    nothing), `wake()` makes it read its stream after its own last id."""

    @property
    def user_id(self) -> str: ...

    def wake(self) -> None: ...

    def notify(self, notice: Notice) -> NoticeKind: ...


L = TypeVar("L", bound=Listener)


class ConnectionHub(Generic[L]):
    """Follows a user's notifications while it holds at least one of the user's connections
    (`follow` at the first, `unfollow` after the last), so the channels it subscribes are
    bounded by its connections. A notification goes to its user's connections only; one that
    reaches no connection is counted `ignored`."""

    def __init__(
        self,
        *,
        follow: Callable[[str], None],
        unfollow: Callable[[str], None],
        counts: GatewayCounts,
    ) -> None:
        self._follow = follow
        self._unfollow = unfollow
        self._by_user: dict[str, set[L]] = {}
        self._count = 0
        self.idle = asyncio.Event()  # set while no connection is registered
        self.idle.set()
        self._notices = counts.notices

    def register(self, listener: L) -> None:
        listeners = self._by_user.get(listener.user_id)
        if listeners is None:
            listeners = self._by_user[listener.user_id] = set()
            self._follow(listener.user_id)
        if listener not in listeners:
            listeners.add(listener)
            self._count += 1
            self.idle.clear()

    def unregister(self, listener: L) -> None:
        listeners = self._by_user.get(listener.user_id)
        if listeners is not None and listener in listeners:
            listeners.discard(listener)
            self._count -= 1
            if not self._count:
                self.idle.set()
            if not listeners:
                del self._by_user[listener.user_id]
                self._unfollow(listener.user_id)

    def __len__(self) -> int:
        return self._count

    def listeners(self) -> Iterator[L]:
        for listeners in list(self._by_user.values()):
            yield from list(listeners)

    def notify(self, user: str, notice: Notice | None) -> None:
        """A notification of `user` (None: unreadable, so each of its connections reads)."""
        listeners = self._by_user.get(user)
        counts = self._notices
        if not listeners:
            counts[NoticeKind.IGNORED] += 1
            return
        for listener in listeners:
            if notice is None:
                listener.wake()
                counts[NoticeKind.READ] += 1
            else:
                counts[listener.notify(notice)] += 1

    def resubscribed(self, users: Collection[str]) -> None:
        """Anything published while these users were not subscribed is only in their streams."""
        for user in users:
            for listener in self._by_user.get(user, ()):
                listener.wake()
