"""Real time at every load (issue 16): a batch's write never waits for records not yet sent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import orjson
import pytest

from adapters.telemetry.memory import InMemoryTelemetry
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from application.ports import PublishResult
from domain.model import Partition, SseMessage
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = [Partition("genesis", 0), Partition("genesis", 1)]
COMMAND = "Genesis.Session.Command.Received"


class HeldStore(FakeStreamStore):
    """A store whose publishes wait for `gate` (open unless closed), counting them."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.publishes = 0

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        self.publishes += 1
        await self.gate.wait()
        return await super().publish(messages)


class Producer:
    """A bridge over fakes, and records produced to it one by one, as a quiet topic gets them."""

    def __init__(self, *, commit_interval_s: float = 1.0) -> None:
        self.clock = FakeClock()
        self.source = FakeEventSource(self.clock, P)
        self.store = HeldStore()
        self.bridge = bridge_over_fakes(
            self.clock,
            self.source,
            store=self.store,
            dead_letters=FakeDeadLetters(),
            telemetry=InMemoryTelemetry(),
            policy=BridgePolicy(max_batch=100, commit_interval_s=commit_interval_s),
        )
        self.ids: list[str] = []

    def produce(self, n: int = 1) -> None:
        for i in range(n):
            session = str(uuid.uuid4())
            value = flat_event(self.clock.wall(), session, "7", COMMAND)
            self.source.append(P[0], session.encode(), value)  # one partition: one order
            self.ids.append(orjson.loads(value)["event_id"])
            del i

    def delivered(self) -> list[str]:
        return [m.event_id for m in self.store.events_of("7")]

    def committed(self) -> int:
        return sum(self.source.committed.values())


def test_a_single_record_is_written_in_the_step_that_fetched_it() -> None:
    """Before: it waited in the pipeline for the next step, whose fetch waited for records
    that were not coming (up to fetch_timeout_s, or the broker's fetch_max_wait_ms)."""
    p = Producer()

    async def go() -> None:
        await p.bridge.step()  # the group is joined, nothing there yet
        p.produce()
        await p.bridge.step()
        assert p.delivered() == p.ids  # in Redis now, not a step later
        await p.bridge.step()  # nothing new: the write is booked and committed at once
        assert p.committed() == 1

    asyncio.run(go())


def test_at_a_low_rate_every_event_is_written_at_once_and_commits_stay_batched() -> None:
    p = Producer(commit_interval_s=3600)

    async def go() -> None:
        for n in range(1, 11):
            p.produce()
            await p.bridge.step()
            assert len(p.delivered()) == n
        assert p.committed() == 0  # ten writes, no commit yet: neither due nor caught up
        await p.bridge.step()  # caught up: one commit for all ten
        assert p.committed() == 10
        assert p.source.commits == 1

    asyncio.run(go())


def test_while_records_keep_coming_the_next_batch_is_triaged_during_the_write() -> None:
    p = Producer()

    async def go() -> None:
        p.produce(3)
        await p.bridge.step()  # nothing more was there: written at once
        assert p.store.publishes == 1
        p.store.gate.clear()  # the next write stays in flight
        p.produce(3)
        await p.bridge.step()
        assert p.store.publishes == 2  # its write is out, held
        p.produce(3)
        await p.bridge.step()  # fetched and triaged while that write is in flight...
        assert p.store.publishes == 2  # ...and waits for it: one write at a time
        fetched = sum(len(p.source.logs[x]) - n for x, n in p.source.lag().items())
        assert fetched == 9
        p.store.gate.set()
        await p.bridge.settle()
        assert p.delivered() == p.ids  # in order

    asyncio.run(go())


def test_records_already_there_are_taken_with_the_batch_before_it_is_written() -> None:
    """The overlap is kept when there is more work: a prefetched batch is triaged while the
    write of the one before it is in flight, every record delivered once, in order."""
    p = Producer()
    p.produce(250)

    async def go() -> None:
        for _ in range(6):
            await p.bridge.step()
        await p.bridge.settle()

    asyncio.run(go())
    assert p.delivered() == p.ids
    assert p.store.publishes == 3  # batches of 100, 100 and 50, not one per step
    assert p.committed() == 250
