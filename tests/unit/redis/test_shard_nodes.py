"""ShardNodes: a node's reader that cannot follow a reply, or a node that cannot be reached."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.redis.node_connections import Address
from adapters.redis.shard_nodes import ShardNodes
from adapters.redis.shard_subscriber import ShardSubscriber
from application.ports import StoreUnavailable

pytestmark = [pytest.mark.unit, pytest.mark.timeout(10)]

SEED: Address = ("127.0.0.1", 1)


class Connection:
    """A stand-in for one redis-py connection: it answers what the test queues, in order."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    async def connect(self) -> None:
        if self.refuse:
            raise ConnectionRefusedError(111, "Connection refused")

    async def disconnect(self, nowait: bool = False) -> None:
        self.closed = True

    def pack_commands(self, commands: list[tuple[Any, ...]]) -> list[bytes]:
        return [b"%r" % (c,) for c in commands]

    async def send_packed_command(self, packed: Any, check_health: bool = True) -> None:
        pass

    async def read_response(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 (redis-py's)
        return await self.replies.get()


class Connector:
    def __init__(self, connection: Connection) -> None:
        self.seed = SEED
        self.connection = connection

    def __call__(self, address: Address | None = None) -> Connection:
        return self.connection


class Events:
    def __init__(self) -> None:
        self.dropped_channels: list[bytes] = []
        self.gone = asyncio.Event()

    def message(self, channel: bytes, payload: bytes) -> None: ...

    def confirmed_on(self, node: ShardSubscriber, channel: bytes) -> None: ...

    def dropped(self, node: ShardSubscriber, channels: list[bytes], reason: str) -> None:
        self.dropped_channels += channels
        self.gone.set()


def test_a_reply_the_reader_cannot_follow_starts_the_node_afresh_and_drops_its_channels() -> None:
    async def scenario() -> None:
        connection, events = Connection(), Events()
        connector: Any = Connector(connection)
        nodes = ShardNodes(connector, events, cluster=False, idle_s=5)
        node = await nodes.node(SEED)
        await node.send([b"sse:user:{u}:notify"], [])
        connection.replies.put_nowait(7)  # not an array: no reply of subscribed mode is this
        await asyncio.wait_for(events.gone.wait(), 5)
        assert events.dropped_channels == [b"sse:user:{u}:notify"]  # to be subscribed again
        assert not nodes.current(node)
        assert connection.closed
        await nodes.close_all()

    asyncio.run(scenario())


def test_a_cluster_node_that_cannot_be_reached_makes_the_slot_map_be_read_again() -> None:
    async def scenario() -> None:
        connector: Any = Connector(Connection(refuse=True))
        nodes = ShardNodes(connector, Events(), cluster=True, idle_s=5)
        nodes.stale = False  # a map was read, and names this master
        with pytest.raises(StoreUnavailable):
            await nodes.node(("127.0.0.1", 2))
        assert nodes.stale  # its replica may have taken over: never retried at the same address

    asyncio.run(scenario())
