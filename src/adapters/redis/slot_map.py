"""Which Redis Cluster master serves a channel's slot, from CLUSTER SLOTS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from adapters.redis.node_connections import Address


class SlotMap:
    """The master of each of the 16384 slots (None: not covered right now)."""

    def __init__(self, reply: Sequence[Any], asked: Address) -> None:
        """`reply` is CLUSTER SLOTS as a RESP2 array: [start, end, [host, port, id], replicas...]
        per range; a master whose host is empty is the node that was `asked`."""
        self._owner: list[Address | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        for start, end, master, *_ in reply:
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            address = (host or asked[0], int(master[1]))
            self._owner[int(start) : int(end) + 1] = [address] * (int(end) - int(start) + 1)

    @property
    def uncovered(self) -> int:
        """How many slots no master serves right now."""
        return self._owner.count(None)

    @property
    def masters(self) -> set[Address]:
        return {a for a in self._owner if a is not None}

    def owner(self, channel: bytes) -> Address | None:
        return self._owner[key_slot(channel)]

    @staticmethod
    def slot(channel: bytes) -> int:
        return key_slot(channel)
