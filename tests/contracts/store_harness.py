"""A StreamStore to run the contract against: the fake, or RedisStreamStore on a real Redis."""

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
from adapters.redis.keys import RedisKeys
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from application.fakes import FakeClock, FakeStreamStore
from application.ports import StreamStore
from domain.model import SseMessage
from simulator.processes import free_port

StoreFactory = Callable[..., AbstractAsyncContextManager["StoreHarness"]]


def message(
    user: str, session: str, *, event_id: str | None = None, teaches: bool = True
) -> SseMessage:
    """An SSE message of `user` in `session` (a new event id unless given)."""
    eid = event_id or str(uuid.uuid4())
    return SseMessage(
        user,
        session,
        eid,
        "Genesis.Session.Theme.Proposed",
        b'{"event_id":"%s"}' % eid.encode(),
        teaches_owner=teaches,
    )


@dataclass
class StoreHarness:
    """The store under test, and what only a test does to it: read a key's time to live,
    let time pass it, make Redis refuse a user's keys."""

    store: StreamStore
    fake: FakeStreamStore | None = None
    clock: FakeClock | None = None
    client: Any = None
    keys: RedisKeys | None = None

    async def ttl(self, user: str) -> float | None:
        """Seconds the user's stream (and dedup ids) have left; None when they do not exist."""
        if self.fake is not None:
            return self.fake.ttl_of(user)
        assert self.keys is not None
        stream, ids = (
            await self.client.ttl(self.keys.stream(user)),
            await self.client.ttl(self.keys.ids(user)),
        )
        assert abs(stream - ids) <= 1, "the dedup ids live as long as the stream"
        return float(stream) if stream > 0 else None

    async def dedup_ids(self, user: str) -> int:
        if self.fake is not None:
            return self.fake.dedup_ids(user)
        assert self.keys is not None
        return int(await self.client.zcard(self.keys.ids(user)))

    async def outlive(self, seconds: float, *keys: str) -> None:
        """Let `seconds` pass (the fake's clock; a real Redis: until `keys` expired)."""
        if self.clock is not None:
            self.clock.advance(seconds + 0.001)
            return
        deadline = time.monotonic() + seconds + 10
        while await self.client.exists(*keys):
            assert time.monotonic() < deadline, f"{keys} outlived their time to live"
            await asyncio.sleep(0.05)  # polling Redis's expiry with a deadline

    def user_keys(self, user: str) -> tuple[str, ...]:
        return () if self.keys is None else (self.keys.stream(user), self.keys.ids(user))

    def owner_key(self, session: str) -> tuple[str, ...]:
        return () if self.keys is None else (self.keys.owner(session),)

    async def break_user(self, user: str) -> None:
        """Make Redis refuse to write `user`'s stream, the same way every time."""
        if self.fake is not None:
            self.fake.refused_users.add(user)
            return
        assert self.keys is not None
        await self.client.set(self.keys.stream(user), "not a stream")

    async def break_owner(self, session: str) -> None:
        """Make Redis refuse to read or claim `session`'s owner key, the same way every time."""
        if self.fake is not None:
            self.fake.refused_sessions.add(session)
            return
        assert self.keys is not None
        await self.client.rpush(self.keys.owner(session), "not a string")


@asynccontextmanager
async def fake_store(
    *,
    down: bool = False,
    dedup_window: int = 50,
    channel_ttl: int = 3600,
    owner_ttl_s: int = 86_400,
) -> AsyncIterator[StoreHarness]:
    clock = FakeClock()
    store = FakeStreamStore(
        dedup_window=dedup_window, channel_ttl=channel_ttl, owner_ttl_s=owner_ttl_s, clock=clock
    )
    store.available = not down
    yield StoreHarness(store, store, clock)


def real_store_factory(redis_url: str, unique: str, *, cluster: bool = False) -> StoreFactory:
    @asynccontextmanager
    async def real_store(
        *,
        down: bool = False,
        dedup_window: int = 50,
        channel_ttl: int = 3600,
        owner_ttl_s: int = 86_400,
    ) -> AsyncIterator[StoreHarness]:
        url = f"redis://127.0.0.1:{free_port()}/0" if down else redis_url
        settings = RedisSettings(
            url=url,
            cluster=cluster,
            sse_prefix=f"t{unique}:user:",
            session_prefix=f"t{unique}:session:",
            dedup_window=dedup_window,
            channel_ttl=channel_ttl,
            owner_ttl_s=owner_ttl_s,
            connect_timeout_s=0.5,
        )
        keys = RedisKeys(settings.sse_prefix, settings.session_prefix, settings.ticket_prefix)
        async with open_client(settings) as client:
            yield StoreHarness(
                RedisStreamStore(client=client, settings=settings), None, None, client, keys
            )

    return real_store


@pytest.fixture(
    params=[
        pytest.param("fake", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
        # The local 3+3 Redis Cluster: one script call per hash slot, pipelined per master.
        pytest.param("real-cluster", marks=pytest.mark.topology),
    ]
)
def stores(request: pytest.FixtureRequest, unique: str) -> StoreFactory:
    """Opens the store under test (`async with stores(**settings) as h`)."""
    if request.param == "fake":
        return fake_store
    if request.param == "real-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        return real_store_factory(cluster.url, unique, cluster=True)
    services = request.getfixturevalue("real_services")
    return real_store_factory(services.redis_url, unique, cluster=services.redis_cluster)
