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
        self.sent: list[Any] = []
        self.wrote = asyncio.Event()

    async def connect(self) -> None:
        if self.refuse:
            raise ConnectionRefusedError(111, "Connection refused")

    async def disconnect(self, nowait: bool = False) -> None:
        self.closed = True

    def pack_commands(self, commands: list[tuple[Any, ...]]) -> list[bytes]:
        return [b"%r" % (c,) for c in commands]

    def pack_command(self, *args: Any) -> list[bytes]:
        return self.pack_commands([args])

    async def send_packed_command(self, packed: Any, check_health: bool = True) -> None:
        self.sent += packed
        self.wrote.set()

    async def pinged(self, times: int) -> None:
        """Until `times` PINGs were sent."""
        async with asyncio.timeout(5):
            while sum(b"PING" in c for c in self.sent) < times:
                self.wrote.clear()
                await self.wrote.wait()

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
        self.reasons: list[str] = []
        self.gone = asyncio.Event()

    def message(self, channel: bytes, payload: bytes) -> None: ...

    def confirmed_on(self, node: ShardSubscriber, channel: bytes) -> None: ...

    def dropped(self, node: ShardSubscriber, channels: list[bytes], reason: str) -> None:
        self.dropped_channels += channels
        self.reasons.append(reason)
        self.gone.set()


def over(
    connection: Connection, *, cluster: bool = False, idle_s: float = 5
) -> tuple[ShardNodes, Events]:
    """ShardNodes whose every connection is `connection`, and what they report."""
    events = Events()
    connector: Any = Connector(connection)
    return ShardNodes(connector, events, cluster=cluster, idle_s=idle_s), events


def test_a_reply_the_reader_cannot_follow_starts_the_node_afresh_and_drops_its_channels() -> None:
    async def scenario() -> None:
        connection = Connection()
        nodes, events = over(connection)
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
        nodes, _ = over(Connection(refuse=True), cluster=True)
        nodes.stale = False  # a map was read, and names this master
        with pytest.raises(StoreUnavailable):
            await nodes.node(("127.0.0.1", 2))
        assert nodes.stale  # its replica may have taken over: never retried at the same address

    asyncio.run(scenario())


def test_a_silent_node_is_pinged_and_given_up_when_the_ping_goes_unanswered_too() -> None:
    async def scenario() -> None:
        connection = Connection()
        nodes, events = over(connection, idle_s=0.05)
        node = await nodes.node(SEED)
        await node.send([b"ch"], [])
        connection.replies.put_nowait([b"ssubscribe", b"ch", 1])
        await asyncio.wait_for(events.gone.wait(), 5)  # nothing more comes: not even a pong
        assert [c for c in connection.sent if b"PING" in c] == [b"('PING',)"]
        assert events.dropped_channels == [b"ch"]
        assert events.reasons == ["Redis unavailable: no reply from 127.0.0.1:1 for 0.05s"]
        await nodes.close_all()

    asyncio.run(scenario())


def test_a_node_that_answers_its_ping_is_kept_and_pinged_again_when_silent_again() -> None:
    async def scenario() -> None:
        connection = Connection()
        nodes, events = over(connection, idle_s=0.05)
        node = await nodes.node(SEED)

        await connection.pinged(1)
        connection.replies.put_nowait([b"pong", b""])
        await connection.pinged(2)  # given up only after a ping goes unanswered: this was not
        assert nodes.current(node)
        assert not events.gone.is_set()
        connection.replies.put_nowait([b"pong", b""])
        await connection.pinged(3)
        assert nodes.current(node)
        await nodes.close_all()

    asyncio.run(scenario())
