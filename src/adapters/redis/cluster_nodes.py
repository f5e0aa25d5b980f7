"""A Redis Cluster's masters as the cluster says (CLUSTER SLOTS), and whether each one answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from adapters.redis.client import LIBRARY_ERRORS, store_errors
from adapters.redis.node_connections import Address, NodeConnector
from adapters.redis.settings import RedisSettings
from adapters.redis.slot_map import SlotMap
from application.ports import StoreUnavailable


async def read_slot_map(connector: NodeConnector, known: Iterable[Address] = ()) -> SlotMap:
    """CLUSTER SLOTS from the URL's node, else from the first of `known` that answers (each on
    a connection of its own, closed after); StoreUnavailable when none does."""
    error = StoreUnavailable("Redis unavailable: no Cluster node to ask", retriable=True)
    for address in dict.fromkeys([connector.seed, *known]):
        try:
            return SlotMap(await _ask(connector, address, "CLUSTER", "SLOTS"), address)
        except StoreUnavailable as exc:
            error = exc
    raise error


async def _ask(connector: NodeConnector, address: Address, *command: str) -> Any:
    conn = connector(address)
    try:
        with store_errors():
            await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_command(*command, check_health=False)
            return await conn.read_response()
    finally:
        with contextlib.suppress(*LIBRARY_ERRORS):
            await conn.disconnect(nowait=True)


class ClusterPing:
    """Readiness on a Cluster: Redis answers only when every one of the 16384 slots has a master
    and every master answers a PING. The Cluster client's own PING goes to one node, which
    says nothing of a master that died (its slots then fail until its replica takes over)."""

    def __init__(self, connector: NodeConnector) -> None:
        self._connector = connector
        self._masters: set[Address] = set()

    async def __call__(self) -> None:
        slots = await read_slot_map(self._connector, self._masters)
        self._masters = slots.masters
        if slots.uncovered:
            raise StoreUnavailable(
                f"Redis Cluster unavailable: {slots.uncovered} slots have no master",
                retriable=True,
            )
        replies = await asyncio.gather(
            *(_ask(self._connector, a, "PING") for a in sorted(slots.masters)),
            return_exceptions=True,
        )
        for address, reply in zip(sorted(slots.masters), replies, strict=True):
            if isinstance(reply, BaseException):
                raise StoreUnavailable(
                    f"Redis Cluster unavailable: master {address[0]}:{address[1]} does not "
                    f"answer ({reply})",
                    retriable=True,
                ) from reply


def cluster_ping(settings: RedisSettings, connector: NodeConnector) -> ClusterPing | None:
    """The gateway's readiness check of Redis: ClusterPing on a Cluster, else None (the
    client's own PING of its one node)."""
    return ClusterPing(connector) if settings.cluster else None
