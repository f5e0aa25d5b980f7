"""An EventSource to run the contract against: the fake, or AiokafkaEventSource on real Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import pytest
from aiokafka import AIOKafkaProducer

from adapters.kafka.settings import KafkaSettings
from adapters.kafka.source import AiokafkaEventSource
from application.fakes import FakeClock, FakeEventSource
from application.ports import EventSource
from domain.model import Partition, Record
from simulator.topics import create_topics_async

Headers = tuple[tuple[str, bytes], ...]


class SourceHarness(Protocol):
    """A topic of `partitions`, the member under test (`source`), and what only a test does:
    append records, restart the member, let another member join the group."""

    source: EventSource
    partitions: list[Partition]

    async def append(
        self, p: int, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> None: ...

    async def restart(self) -> None: ...

    async def another_member_joins(self) -> frozenset[Partition]: ...


SourceFactory = Callable[..., AbstractAsyncContextManager[SourceHarness]]


async def fetch_until(source: EventSource, n: int, deadline_s: float = 30) -> list[Record]:
    """Fetch until `n` records came (the deadline bounds it)."""
    got: list[Record] = []
    deadline = time.monotonic() + deadline_s
    while len(got) < n and time.monotonic() < deadline:
        got += await source.fetch(timeout_s=0.2, max_records=100)
    return got


async def joined(h: SourceHarness, deadline_s: float = 30) -> None:
    """Fetch (nothing is appended yet) until the member holds every partition."""
    deadline = time.monotonic() + deadline_s
    while True:
        assert await h.source.fetch(timeout_s=0.2, max_records=10) == []
        if h.source.assignment() == frozenset(h.partitions):
            return
        assert time.monotonic() < deadline, "the member never got its partitions"


class FakeHarness:
    def __init__(self, partitions: int) -> None:
        self.clock = FakeClock()
        self.partitions = [Partition("contract", p) for p in range(partitions)]
        self.source: FakeEventSource = FakeEventSource(self.clock, self.partitions)

    async def append(
        self, p: int, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> None:
        self.source.append(self.partitions[p], key, value, headers)

    async def restart(self) -> None:
        self.source.crash()

    async def another_member_joins(self) -> frozenset[Partition]:
        """An eager rebalance, as Kafka's default assignors make it: all revoked, half back."""
        taken = frozenset(self.partitions[len(self.partitions) // 2 :])
        await self.source.revoke(self.partitions)
        await self.source.assign([p for p in self.partitions if p not in taken])
        return taken


@asynccontextmanager
async def fake_source(*, partitions: int = 2) -> AsyncIterator[SourceHarness]:
    yield FakeHarness(partitions)


class KafkaHarness:
    def __init__(self, settings: KafkaSettings, partitions: int) -> None:
        self.settings = settings
        self.partitions = [Partition(settings.topic, p) for p in range(partitions)]
        self.source: AiokafkaEventSource = AiokafkaEventSource(settings=settings)
        self._producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        self._others: list[AiokafkaEventSource] = []

    async def start(self) -> None:
        await self._producer.start()
        await self.source.start()

    async def stop(self) -> None:
        for member in (*self._others, self.source):
            with contextlib.suppress(Exception):
                await member.stop()
        await self._producer.stop()

    async def append(
        self, p: int, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> None:
        await self._producer.send_and_wait(
            self.settings.topic, value, key=key, partition=p, headers=list(headers)
        )

    async def restart(self) -> None:
        callbacks: Any = self.source._on_revoked, self.source._on_assigned
        await self.source.stop()
        self.source = AiokafkaEventSource(settings=self.settings)
        self.source.on_rebalance(revoked=callbacks[0], assigned=callbacks[1])
        await self.source.start()

    async def another_member_joins(self) -> frozenset[Partition]:
        # Another process: a static member of its own (one instance id is one member).
        ordinal = len(self._others) + 1
        other = AiokafkaEventSource(
            settings=self.settings.model_copy(update={"instance_ordinal": ordinal})
        )
        self._others.append(other)
        await other.start()
        deadline = time.monotonic() + 60
        while not other.assignment() or len(self.source.assignment()) == len(self.partitions):
            assert time.monotonic() < deadline, "the group never rebalanced"
            await asyncio.gather(
                self.source.fetch(timeout_s=0.2, max_records=10),
                other.fetch(timeout_s=0.2, max_records=10),
            )
        return other.assignment()


def kafka_source_factory(bootstrap: str, unique: str) -> SourceFactory:
    count = 0

    @asynccontextmanager
    async def kafka_source(*, partitions: int = 2) -> AsyncIterator[SourceHarness]:
        nonlocal count
        count += 1
        settings = KafkaSettings(
            bootstrap_servers=bootstrap,
            topic=f"contract-{unique}-{count}",
            group_id=f"contract-{unique}-{count}",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        await create_topics_async(bootstrap, {settings.topic: partitions})
        harness = KafkaHarness(settings, partitions)
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()

    return kafka_source


@pytest.fixture(
    params=[
        pytest.param("fake", marks=pytest.mark.unit),
        pytest.param("kafka", marks=pytest.mark.integration),
    ]
)
def sources(request: pytest.FixtureRequest, unique: str) -> SourceFactory:
    """Opens a topic and the member under test (`async with sources(partitions=n) as h`)."""
    if request.param == "fake":
        return fake_source
    services = request.getfixturevalue("real_services")
    return kafka_source_factory(services.kafka_bootstrap, unique)
