"""One Redis pattern subscription per gateway process, fanned out to that user's connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio import Redis

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from adapters.redis.settings import RedisSettings
from application.ports import StoreUnavailable

log = logging.getLogger("eventbridge.gateway.hub")


class Listener(Protocol):
    """A connection: `wake()` makes it read its stream after its own last id."""

    user_id: str

    def wake(self) -> None: ...


L = TypeVar("L", bound=Listener)


def make_pubsub_client(settings: RedisSettings) -> Redis:
    """A plain client for the subscription; on a Cluster, classic PUBLISH reaches every node."""
    return Redis.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.connect_timeout_s,
        health_check_interval=30,
    )


class NotificationHub(Generic[L]):
    """`PSUBSCRIBE <prefix>*:notify` once; a notification only wakes the user's connections.

    Pub/sub may drop messages, so after every (re)subscription all connections are woken to
    re-read their streams; their heartbeat ticks re-read too (docs/redis-contract.md).
    """

    def __init__(self, *, client: Any, keys: RedisKeys, poll_s: float = 1.0) -> None:
        self._client = client
        self._keys = keys
        self._poll_s = poll_s
        self._by_user: dict[str, set[L]] = {}
        self._count = 0
        self.idle = asyncio.Event()  # set while no connection is registered
        self.idle.set()
        self.subscribed = asyncio.Event()
        self.resubscriptions = 0

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

    def wake_all(self) -> None:
        for listener in self.listeners():
            listener.wake()

    def notify(self, channel: bytes | str) -> None:
        # The pattern matches any bytes: a channel that is not UTF-8 names no (valid) user.
        name = channel.decode(errors="replace") if isinstance(channel, bytes) else channel
        user = self._keys.user_of_channel(name)
        for listener in self._by_user.get(user or "", ()):
            listener.wake()

    async def run(self) -> None:
        """Keep the subscription up until cancelled, reconnecting with backoff."""
        backoff = 0.1
        while True:
            pubsub = self._client.pubsub()
            try:
                with store_errors():
                    await pubsub.psubscribe(self._keys.notify_pattern)
                    while True:
                        message = await pubsub.get_message(timeout=self._poll_s)
                        if message is None:
                            continue
                        kind = message["type"]
                        if kind in ("pmessage", b"pmessage"):
                            self.notify(message["channel"])
                        elif kind in ("psubscribe", b"psubscribe"):
                            self._subscribed()
                            backoff = 0.1
            except StoreUnavailable as exc:
                if self.subscribed.is_set():
                    log.warning("notification subscription lost", extra={"error": str(exc)})
            finally:
                # Down from here until the next confirmation, however this attempt ended.
                self.subscribed.clear()
                with contextlib.suppress(StoreUnavailable), store_errors():
                    await pubsub.aclose()
            await asyncio.sleep(backoff)  # reconnect backoff, not waiting for a result
            backoff = min(backoff * 2, 2.0)

    def _subscribed(self) -> None:
        if self.resubscriptions:
            log.info("notification subscription restored; every connection re-reads")
        self.resubscriptions += 1
        self.subscribed.set()
        # Anything published while we were not subscribed is only in the streams now.
        self.wake_all()
