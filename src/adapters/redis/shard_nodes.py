"""ShardNodes: where each channel's slot is served, and one subscriber per node in use."""

from __future__ import annotations

import asyncio
import time

from adapters.redis.cluster_nodes import read_slot_map
from adapters.redis.node_connections import Address, NodeConnector
from adapters.redis.shard_subscriber import ShardEvents, ShardSubscriber
from adapters.redis.slot_map import SlotMap
from application.cancelling import cancel_and_wait
from application.ports import StoreUnavailable

BACKOFF_MIN, BACKOFF_MAX = 0.05, 2.0


class ShardNodes:
    """The gateway's node subscribers: a channel's slot is served by the URL's node (single
    node) or by the master CLUSTER SLOTS names (Cluster); each node in use has one
    ShardSubscriber and a reader task. A node whose connection fails is `gone`: its channels
    are reported dropped, to be subscribed again wherever their slots are then."""

    def __init__(
        self, connector: NodeConnector, events: ShardEvents, *, cluster: bool, idle_s: float
    ) -> None:
        self._connector = connector
        self._events = events
        self._cluster = cluster
        self._idle_s = idle_s
        self._nodes: dict[Address, ShardSubscriber] = {}
        self._readers: dict[Address, asyncio.Task[None]] = {}
        self._slots: SlotMap | None = None
        self.stale = True  # the slot map must be read (again) before the next subscription
        self._refreshed_at = -1e9
        self._refresh_backoff = BACKOFF_MIN

    def owner(self, channel: bytes) -> Address | None:
        if not self._cluster:
            return self._connector.seed
        return self._slots.owner(channel) if self._slots is not None else None

    async def refresh(self) -> None:
        """Read the slot map (Cluster), at most about once per backoff while slots keep moving;
        on a single node only the pause applies (before retrying a refused channel)."""
        since = time.monotonic() - self._refreshed_at
        if since < 1.0:
            await asyncio.sleep(self._refresh_backoff)  # slots are moving: do not spin
            self._refresh_backoff = min(self._refresh_backoff * 2, BACKOFF_MAX)
        else:
            self._refresh_backoff = BACKOFF_MIN
        self._refreshed_at = time.monotonic()
        if self._cluster:
            self._slots = await self._read_slots()
            for address in set(self._nodes) - self._slots.masters:
                await self.gone(self._nodes[address], "no longer a master")
        self.stale = False

    async def _read_slots(self) -> SlotMap:
        return await read_slot_map(self._connector, self._slots.masters if self._slots else ())

    async def node(self, address: Address) -> ShardSubscriber:
        node = self._nodes.get(address)
        if node is not None:
            return node
        node = ShardSubscriber(
            self._connector(address),
            address,
            self._events,
            cluster=self._cluster,
            idle_s=self._idle_s,
        )
        try:
            await node.connect()
        except StoreUnavailable:
            await node.close()
            # A master that does not answer may have failed over: where its slots are served
            # now is read again before the next attempt, never retried at the same address.
            self.stale = self._cluster or self.stale
            raise
        self._nodes[address] = node
        self._readers[address] = asyncio.create_task(self._read(node))
        return node

    async def _read(self, node: ShardSubscriber) -> None:
        try:
            await node.read()
        except StoreUnavailable as exc:
            await self.gone(node, str(exc))
        except Exception as exc:  # the reader's boundary: a reply it cannot follow, or a bug
            # Never a silently dead reader with its channels still counted as subscribed: the
            # node starts afresh and its users are subscribed again (and read their streams).
            await self.gone(node, f"{type(exc).__name__}: {exc}")

    async def gone(self, node: ShardSubscriber, why: str) -> None:
        """Its users go back to be subscribed wherever their slots are now."""
        if self._nodes.get(node.address) is node:
            del self._nodes[node.address]
            reader = self._readers.pop(node.address, None)
            if reader is not None and reader is not asyncio.current_task():
                reader.cancel()
        self._events.dropped(node, list(node.channels), why)
        node.channels.clear()
        await node.close()

    def current(self, node: ShardSubscriber) -> bool:
        """Whether `node` is still the subscriber of its address (not failed, not replaced)."""
        return self._nodes.get(node.address) is node

    async def close_all(self) -> None:
        await cancel_and_wait(list(self._readers.values()))  # a cancel can be lost (3.11)
        for node in self._nodes.values():
            await node.close()
        self._nodes.clear()
        self._readers.clear()
        self.stale = True
