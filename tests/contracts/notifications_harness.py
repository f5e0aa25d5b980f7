"""The Notifications port under test: fake, real on the session's Redis, real on a Cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from adapters.redis.client import open_client
from adapters.redis.node_connections import NodeConnector
from adapters.redis.notifications import RedisNotifications
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.redis.stream_reader import RedisStreamReader
from application.fakes import FakeNotifications, FakeStreamReader
from application.gateway.ports import Notifications
from domain.gateway.entries import Entry
from domain.model import SseMessage
from tests.contracts.gateway_ports import Factory, keys_of, redis_settings, unreachable

# "real-cluster" is still "real" (an integration test, tests/contracts/conftest.py) and runs in
# the topology tier: it starts the session's local Redis Cluster.
KINDS = ["fake", "real", "real-cluster"]


@dataclass
class NotificationsUnderTest:
    notifications: Notifications
    write: Callable[[str, int], Awaitable[list[str]]]  # the bridge writes n events in one call
    read: Callable[[str, str], Awaitable[list[Entry]]]  # the user's entries after an id
    drop: Callable[[], Awaitable[None]]  # the subscriber's connections are lost
    broken: Notifications  # one whose Redis cannot be reached
    other: Notifications  # a second gateway's, on the same Redis


def same_slot(user: str) -> str:
    """Another user whose channel hashes to `user`'s slot, so that on every topology their
    notifications travel one connection, in order (proving an absence by what came after it)."""
    slot = key_slot(b"{%s}" % user.encode())
    return next(
        f"{user}-{i}" for i in range(10**6) if key_slot(b"{%s-%d}" % (user.encode(), i)) == slot
    )


def notifications_factory(request: pytest.FixtureRequest) -> Factory:
    if request.param == "fake":
        return _fake
    settings = redis_settings(request)
    nodes: list[tuple[str, int]] = []
    if request.param == "real-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        settings = settings.model_copy(update={"url": cluster.url, "cluster": True})
        nodes = cluster.startup_nodes
    elif settings.cluster:  # "real" on a session whose topology is a Cluster
        local = request.getfixturevalue("real_services").redis_local_cluster
        nodes = local.startup_nodes if local is not None else []
    return lambda: _real(settings, nodes)


@asynccontextmanager
async def _fake() -> AsyncIterator[NotificationsUnderTest]:
    fake, broken, other = FakeNotifications(), FakeNotifications(), FakeNotifications()
    streams = FakeStreamReader()
    broken.available = False

    async def write(user: str, n: int) -> list[str]:
        ids = [streams.append(user, str(uuid.uuid4()), data=b'{"n":%d}' % i) for i in range(n)]
        for gateway in (fake, other):  # what Redis sends to each gateway's subscriber
            gateway.publish(user, streams.notice(user, n))
        return ids

    async def read(user: str, after: str) -> list[Entry]:
        return await streams.read_after(user, after, 1000)

    async def drop() -> None:
        fake.disconnect()

    yield NotificationsUnderTest(fake, write, read, drop, broken, other)


@asynccontextmanager
async def _real(
    settings: RedisSettings, nodes: list[tuple[str, int]]
) -> AsyncIterator[NotificationsUnderTest]:
    keys, name = keys_of(settings), f"contract-{uuid.uuid4().hex[:8]}"
    subscriber = RedisNotifications(
        connector=NodeConnector(settings, client_name=name), keys=keys, cluster=settings.cluster
    )
    broken = RedisNotifications(connector=NodeConnector(unreachable()), keys=keys, cluster=False)
    other = RedisNotifications(
        connector=NodeConnector(settings, client_name=f"{name}-other"),
        keys=keys,
        cluster=settings.cluster,
    )
    async with open_client(settings) as client:
        store = RedisStreamStore(client=client, settings=settings)
        reader = RedisStreamReader(client=client, keys=keys)

        async def write(user: str, n: int) -> list[str]:
            messages = [
                SseMessage(user, "s", str(uuid.uuid4()), "T", b'{"n":%d}' % i) for i in range(n)
            ]
            return [r.stream_id for r in await store.publish(messages)]

        async def read(user: str, after: str) -> list[Entry]:
            return await reader.read_after(user, after, 1000)

        async def drop() -> None:
            for host, port in nodes or [NodeConnector(settings).seed]:
                node: Any = Redis(host=host, port=port)
                try:
                    for info in await node.client_list(_type="pubsub"):
                        if info.get("name") == name:
                            await node.client_kill_filter(_id=info["id"])
                finally:
                    await node.aclose()

        yield NotificationsUnderTest(subscriber, write, read, drop, broken, other)
