"""RedisNotifications: one pattern subscription per gateway process, turned into wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from application.ports import StoreUnavailable

log = logging.getLogger("eventbridge.gateway.hub")


class RedisNotifications:
    """The Notifications port: `PSUBSCRIBE <prefix>*:notify` on its own plain connection (on a
    Cluster, classic PUBLISH reaches every node); a message wakes the user its channel names.
    Pub/sub may drop messages, so every (re)subscription is reported (docs/redis-contract.md).
    """

    def __init__(self, *, client: Any, keys: RedisKeys, poll_s: float = 1.0) -> None:
        self._client = client
        self._keys = keys
        self._poll_s = poll_s
        self._subscribed = False
        self.resubscriptions = 0

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    async def run(self, *, wake: Callable[[str], None], subscribed: Callable[[], None]) -> None:
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
                            user = self._user_of(message["channel"])
                            if user:
                                wake(user)
                        elif kind in ("psubscribe", b"psubscribe"):
                            self._confirmed()
                            backoff = 0.1
                            subscribed()
            except StoreUnavailable as exc:
                if self._subscribed:
                    log.warning("notification subscription lost", extra={"error": str(exc)})
            finally:
                # Down from here until the next confirmation, however this attempt ended.
                self._subscribed = False
                with contextlib.suppress(StoreUnavailable), store_errors():
                    await pubsub.aclose()
            await asyncio.sleep(backoff)  # reconnect backoff, not waiting for a result
            backoff = min(backoff * 2, 2.0)

    def _user_of(self, channel: bytes | str) -> str | None:
        # The pattern matches any bytes: a channel that is not UTF-8 names no (valid) user.
        name = channel.decode(errors="replace") if isinstance(channel, bytes) else channel
        return self._keys.user_of_channel(name)

    def _confirmed(self) -> None:
        if self.resubscriptions:
            log.info("notification subscription restored; every connection re-reads")
        self.resubscriptions += 1
        self._subscribed = True
