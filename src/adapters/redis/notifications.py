"""RedisNotifications: sharded pub/sub on the channels of this gateway's own users only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from adapters.redis.keys import RedisKeys
from adapters.redis.node_connections import Address, NodeConnector
from adapters.redis.notice_format import parse_notice
from adapters.redis.shard_nodes import BACKOFF_MAX, BACKOFF_MIN, ShardNodes
from adapters.redis.shard_subscriber import ShardSubscriber
from application.ports import StoreUnavailable
from domain.gateway.notices import Notice

log = logging.getLogger("eventbridge.gateway.notifications")

Notify = Callable[[str, Notice | None], None]
Resubscribed = Callable[[Collection[str]], None]


class RedisNotifications:
    """The Notifications port: `SSUBSCRIBE sse:user:{u}:notify` for each followed user, on the
    node that serves its slot (CLUSTER SLOTS on a Cluster; the URL's node otherwise), with one
    connection per such node (docs/redis-contract.md, "The notification").

    Changes are batched: one pass sends every SSUBSCRIBE/SUNSUBSCRIBE due, node by node, in one
    write each. A node that fails, a slot that moves (Redis then sends `sunsubscribe`) or an
    SSUBSCRIBE answered MOVED/ASK sends its users back to be subscribed again, after the slot
    map is read again; once confirmed there they are reported `resubscribed`, since a
    notification may have been lost meanwhile.
    """

    def __init__(
        self, *, connector: NodeConnector, keys: RedisKeys, cluster: bool, idle_s: float = 10.0
    ) -> None:
        self._keys = keys
        self._cluster = cluster
        self._seed = connector.seed
        self._wanted: dict[str, bytes] = {}  # followed user -> its channel
        self._users: dict[bytes, str] = {}  # channel -> followed user
        self._on: dict[str, ShardSubscriber] = {}  # user -> the node it is subscribed on
        self._confirmed: set[str] = set()
        self._adding: set[str] = set()
        self._removing: set[str] = set()
        self._lost: set[str] = set()  # to be reported `resubscribed` once confirmed again
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._shards = ShardNodes(connector, self, cluster=cluster, idle_s=idle_s)
        self._dropped_why: str | None = None
        self._changed = asyncio.Event()
        self._healthy = False
        self._notify: Notify = lambda user, notice: None
        self._resubscribed: Resubscribed = lambda users: None

    @property
    def subscribed(self) -> bool:
        return self._healthy

    def follow(self, user: str) -> None:
        if user in self._wanted:
            return
        channel = self._keys.notify(user).encode()
        self._wanted[user], self._users[channel] = channel, user
        if user in self._removing:
            self._removing.discard(user)  # never left its node: still subscribed there
        elif user not in self._on:
            self._adding.add(user)
        self._changed.set()

    def unfollow(self, user: str) -> None:
        channel = self._wanted.pop(user, None)
        if channel is None:
            return
        self._users.pop(channel, None)
        self._adding.discard(user)
        self._lost.discard(user)
        if user in self._on:
            self._removing.add(user)
        self._changed.set()

    async def confirmed(self, user: str) -> None:
        if user in self._confirmed or user not in self._wanted:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(user, []).append(waiter)
        try:
            await waiter
        finally:
            waiting = self._waiters.get(user, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self._waiters.pop(user, None)

    async def run(self, *, notify: Notify, resubscribed: Resubscribed) -> None:
        self._notify, self._resubscribed = notify, resubscribed
        self._adding, self._lost = set(self._wanted), set(self._wanted)
        backoff = BACKOFF_MIN
        try:
            while True:
                self._changed.clear()
                try:
                    await self._pass()
                except StoreUnavailable as exc:
                    if self._healthy:
                        log.warning("notification subscriber lost", extra={"error": str(exc)})
                    self._healthy = False
                    await asyncio.sleep(backoff)  # reconnect backoff, not waiting for a result
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                backoff = BACKOFF_MIN
                if not self._healthy:
                    log.info("notification subscriber up", extra={"users": len(self._wanted)})
                self._healthy = True
                await self._changed.wait()
        finally:
            self._healthy = False
            await self._close_all()

    async def _pass(self) -> None:
        """One reconciliation: every follow and unfollow since the last pass, node by node."""
        if self._shards.stale:
            await self._shards.refresh()
        if self._dropped_why is not None:
            log.warning(
                "notification channels re-subscribed",
                extra={"users": len(self._adding), "reason": self._dropped_why},
            )
            self._dropped_why = None
        leaving: dict[ShardSubscriber, list[bytes]] = {}
        for user in self._removing:
            node = self._on.pop(user, None)
            self._confirmed.discard(user)
            if node is not None and self._shards.current(node):
                leaving.setdefault(node, []).append(self._keys.notify(user).encode())
        self._removing = set()
        joining: dict[Address, list[str]] = {}
        for user in self._adding:
            address = self._shards.owner(self._wanted[user])
            if address is not None:  # else its slot is not served right now: retried
                joining.setdefault(address, []).append(user)
        if not self._cluster:
            joining.setdefault(self._seed, [])  # the one connection stays up
        for address, users in joining.items():
            node = await self._shards.node(address)
            placed = [u for u in users if u in self._adding]  # still wanted, not placed meanwhile
            for user in placed:
                self._on[user] = node
                self._adding.discard(user)
            await node.send([self._wanted[u] for u in placed], leaving.pop(node, []))
        for node, channels in leaving.items():
            await node.send([], channels)
        # Users followed while this pass awaited are the next pass's (`_changed` is set): only
        # those whose slot no master serves are a failure.
        homeless = [u for u in self._adding if self._shards.owner(self._wanted[u]) is None]
        if homeless:
            raise StoreUnavailable(
                f"Redis unavailable: {len(homeless)} notification channels have no node "
                "serving their slot",
                retriable=True,
            )

    async def _close_all(self) -> None:
        await self._shards.close_all()
        self._on.clear()
        self._confirmed.clear()
        self._removing.clear()

    # -- ShardEvents: called by the nodes' reader tasks ------------------------------------------

    def _user(self, channel: bytes) -> str | None:
        user = self._users.get(channel)
        return (
            user
            if user is not None
            else self._keys.user_of_channel(channel.decode(errors="replace"))
        )

    def message(self, channel: bytes, payload: bytes) -> None:
        # A channel no longer followed (unsubscribed meanwhile) still reaches the hub, which
        # counts it ignored.
        user = self._user(channel)
        if user is not None:
            self._notify(user, parse_notice(payload))

    def confirmed_on(self, node: ShardSubscriber, channel: bytes) -> None:
        user = self._users.get(channel)
        if user is None or self._on.get(user) is not node:
            return
        self._confirmed.add(user)
        waiters = self._waiters.pop(user, [])
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if user in self._lost or not waiters:
            # A notification may have been missed before this (re)subscription.
            self._lost.discard(user)
            self._resubscribed((user,))

    def dropped(self, node: ShardSubscriber, channels: list[bytes], reason: str) -> None:
        for channel in channels:
            user = self._user(channel)
            if user is None or self._on.get(user) is not node:
                continue
            del self._on[user]
            self._confirmed.discard(user)
            self._removing.discard(user)
            if user in self._wanted:
                self._adding.add(user)
                self._lost.add(user)
        if channels:
            self._shards.stale = True
            self._healthy = False
            self._dropped_why = reason
            self._changed.set()
