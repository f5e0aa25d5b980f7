"""The gateway's ports under test, fake or real, each with what a suite needs to drive it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.redis.client import open_client
from adapters.redis.cluster_nodes import ClusterPing, cluster_ping
from adapters.redis.keys import RedisKeys
from adapters.redis.leases import RedisLeases
from adapters.redis.node_connections import NodeConnector
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.redis.stream_reader import RedisStreamReader
from adapters.redis.tickets import RedisTickets
from application.fakes import FakeClock, FakeLeases, FakeStreamReader, FakeTickets
from application.gateway.ports import Leases, StreamReader, Tickets
from domain.gateway.leases import LeasePolicy
from domain.model import SseMessage
from simulator.processes import free_port

Factory = Callable[[], AbstractAsyncContextManager[Any]]
POLICY = LeasePolicy(limit=2, lease_s=30)


def redis_settings(request: pytest.FixtureRequest, **values: Any) -> RedisSettings:
    """This test's keys (a unique prefix) on the session's real Redis ("real"), or on the
    local Redis Cluster ("real-cluster": the topology tier)."""
    unique = uuid.uuid4().hex[:10]
    if getattr(request, "param", None) == "real-cluster":
        url, cluster = request.getfixturevalue("redis_cluster").url, True
    else:  # the session's Redis, whichever topology EVENTBRIDGE_TOPOLOGY chose
        provided = request.getfixturevalue("real_services")
        url, cluster = provided.redis_url, provided.redis_cluster
    values.setdefault("cluster", cluster)
    return RedisSettings(
        url=url,
        sse_prefix=f"t{unique}:user:",
        session_prefix=f"t{unique}:session:",
        ticket_prefix=f"t{unique}:ticket:",
        **values,
    )


def keys_of(settings: RedisSettings) -> RedisKeys:
    return RedisKeys(settings.sse_prefix, settings.session_prefix, settings.ticket_prefix)


def unreachable() -> RedisSettings:
    return RedisSettings(
        url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.5, socket_timeout_s=0.5
    )


# -- StreamReader ------------------------------------------------------------------------------


@dataclass
class Streams:
    """A StreamReader, and writes to its streams the way the bridge makes them."""

    reader: StreamReader
    write: Callable[[str, int, bytes], Any]  # (user, n, session) -> awaitable list of ids
    expire: Callable[[str], Any]  # (user) -> awaitable; the user's keys reached their TTL
    down: Callable[[], AbstractAsyncContextManager[StreamReader]]  # a reader Redis fails


def streams_factory(request: pytest.FixtureRequest, *, maxlen: int, window: int) -> Factory:
    if request.param == "fake":
        return lambda: _fake_streams(maxlen, window)
    settings = redis_settings(request, stream_maxlen=maxlen, dedup_window=window)
    return lambda: _real_streams(settings)


@asynccontextmanager
async def _fake_streams(maxlen: int, window: int) -> AsyncIterator[Streams]:
    fake = FakeStreamReader(maxlen=maxlen, dedup_window=window)

    async def write(user: str, n: int, session: bytes = b"s") -> list[str]:
        return [
            fake.append(user, str(uuid.uuid4()), event=b"T", session=session, data=b'{"n":%d}' % i)
            for i in range(n)
        ]

    async def expire(user: str) -> None:
        fake.expire(user)

    @asynccontextmanager
    async def down() -> AsyncIterator[StreamReader]:
        broken = FakeStreamReader()
        broken.available = False
        yield broken

    yield Streams(fake, write, expire, down)


@asynccontextmanager
async def _real_streams(settings: RedisSettings) -> AsyncIterator[Streams]:
    keys = keys_of(settings)
    async with open_client(settings, "gateway") as client:
        store = RedisStreamStore(client=client, settings=settings)

        async def write(user: str, n: int, session: bytes = b"s") -> list[str]:
            messages = [
                SseMessage(user, session.decode(), str(uuid.uuid4()), "T", b'{"n":%d}' % i)
                for i in range(n)
            ]
            ids: list[str] = []
            for at in range(0, n, 200):
                ids += [r.stream_id for r in await store.publish(messages[at : at + 200])]
            return ids

        async def expire(user: str) -> None:
            await client.delete(keys.stream(user), keys.ids(user))

        @asynccontextmanager
        async def down() -> AsyncIterator[StreamReader]:
            gone = unreachable()
            async with open_client(gone, "gateway") as dead:
                health = ClusterPing(NodeConnector(gone)) if settings.cluster else None
                yield RedisStreamReader(
                    client=dead, keys=keys, cluster=settings.cluster, health=health
                )

        # As the gateway is wired: on a Cluster, `ping` is every slot's master answering.
        health = cluster_ping(settings, NodeConnector(settings))
        reader = RedisStreamReader(
            client=client, keys=keys, cluster=settings.cluster, health=health
        )
        yield Streams(reader, write, expire, down)


# -- Leases ------------------------------------------------------------------------------------


def leases_factory(request: pytest.FixtureRequest) -> Factory:
    if request.param == "fake":
        return _fake_leases
    settings = redis_settings(request)
    return lambda: _real_leases(settings)


@asynccontextmanager
async def _fake_leases() -> AsyncIterator[tuple[Leases, Leases]]:
    broken = FakeLeases(POLICY)
    broken.available = False
    yield FakeLeases(POLICY), broken


@asynccontextmanager
async def _real_leases(settings: RedisSettings) -> AsyncIterator[tuple[Leases, Leases]]:
    keys = keys_of(settings)
    async with open_client(settings, "gateway") as client, open_client(unreachable()) as dead:
        yield (
            RedisLeases(client=client, keys=keys, policy=POLICY, cluster=settings.cluster),
            RedisLeases(client=dead, keys=keys, policy=POLICY),
        )


# -- Tickets -----------------------------------------------------------------------------------


@dataclass
class TicketsUnderTest:
    tickets: Tickets
    broken: Tickets
    elapse: Callable[[float], Any]  # awaitable: `seconds` of the tickets' own time pass


def tickets_factory(request: pytest.FixtureRequest) -> Factory:
    if request.param == "fake":
        return _fake_tickets
    settings = redis_settings(request)
    return lambda: _real_tickets(settings)


@asynccontextmanager
async def _fake_tickets() -> AsyncIterator[TicketsUnderTest]:
    clock = FakeClock()
    broken = FakeTickets(clock)
    broken.available = False

    async def elapse(seconds: float) -> None:
        clock.advance(seconds)

    yield TicketsUnderTest(FakeTickets(clock), broken, elapse)


@asynccontextmanager
async def _real_tickets(settings: RedisSettings) -> AsyncIterator[TicketsUnderTest]:
    keys = keys_of(settings)

    async def elapse(seconds: float) -> None:
        # Redis expires keys on its own clock: this half of the suite has to let it pass.
        await asyncio.sleep(seconds)  # the TTL itself, not waiting for a result

    async with open_client(settings, "gateway") as client, open_client(unreachable()) as dead:
        yield TicketsUnderTest(
            RedisTickets(client=client, keys=keys), RedisTickets(client=dead, keys=keys), elapse
        )


async def eventually(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll `check` (no I/O) until it holds, failing with `what` at the deadline."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)  # polling another task's progress with a deadline
