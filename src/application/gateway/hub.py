"""The connections of one gateway process by user: who is woken by a user's notification."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar


class Listener(Protocol):
    """A connection: `wake()` makes it read its stream after its own last id."""

    @property
    def user_id(self) -> str: ...

    def wake(self) -> None: ...


L = TypeVar("L", bound=Listener)


class ConnectionHub(Generic[L]):
    """A notification only wakes its user's connections; after a (re)subscription every
    connection is woken, since anything published meanwhile is only in the streams."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[L]] = {}
        self._count = 0
        self.idle = asyncio.Event()  # set while no connection is registered
        self.idle.set()

    def register(self, listener: L) -> None:
        listeners = self._by_user.setdefault(listener.user_id, set())
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

    def __len__(self) -> int:
        return self._count

    def listeners(self) -> Iterator[L]:
        for listeners in list(self._by_user.values()):
            yield from list(listeners)

    def wake(self, user: str) -> None:
        for listener in self._by_user.get(user, ()):
            listener.wake()

    def wake_all(self) -> None:
        for listener in self.listeners():
            listener.wake()
