"""Every backlog has a bound under every policy, and the retry timer is never starved."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator

import orjson
import pytest

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy, OpenPolicy
from domain.breaker import BreakerPolicy, CircuitBreaker
from domain.model import Partition
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

PARTITIONS = [Partition("genesis", p) for p in range(2)]
COMMAND = "Genesis.Session.Command.Received"
BATCH = 100
BOUND = 1000


def records(clock: FakeClock, pad: int = 0) -> Iterator[tuple[bytes, bytes]]:
    """An endless stream of valid commands with a malformed record every tenth; each command
    carries `pad` bytes more in a field the mapper passes on."""
    n = 0
    while True:
        n += 1
        session = str(uuid.uuid4())
        if n % 10 == 0:
            yield session.encode(), b"{not json"
            continue
        extra = {"note": "x" * pad} if pad else {}
        yield session.encode(), flat_event(clock.wall(), session, str(n % 7), COMMAND, **extra)


class Traffic:
    """A source that gets `BATCH` new records before every step, while time moves on."""

    def __init__(
        self,
        on_open: OpenPolicy,
        *,
        max_backlog_records: int = BOUND,
        max_backlog_bytes: int = 64 * 1024 * 1024,
        pad: int = 0,
        retry_backoff_max_s: float = 2.0,
    ) -> None:
        self.clock = FakeClock()
        self.source = FakeEventSource(self.clock, PARTITIONS)
        self.store, self.dlq = FakeStreamStore(), FakeDeadLetters()
        self._records = records(self.clock, pad)
        self.bridge: BridgeService = bridge_over_fakes(
            self.clock,
            self.source,
            store=self.store,
            dead_letters=self.dlq,
            telemetry=InMemoryTelemetry(),
            breaker=CircuitBreaker(BreakerPolicy(minimum_calls=2, cool_down_s=5)),
            policy=BridgePolicy(
                max_batch=BATCH,
                on_open=on_open,
                retry_backoff_s=1.0,
                retry_backoff_max_s=retry_backoff_max_s,
                max_backlog_records=max_backlog_records,
                max_backlog_bytes=max_backlog_bytes,
            ),
        )

        self.produced: list[bytes] = []

    def step(self, n: int = 1) -> list[int]:
        """`n` steps; the backlog after each."""
        seen = []

        async def go() -> None:
            for _ in range(n):
                for i in range(BATCH):
                    key, value = next(self._records)
                    self.source.append(PARTITIONS[i % 2], key, value)
                    self.produced.append(value)
                self.clock.advance(0.1)
                await self.bridge.step()
                seen.append(self.bridge.backlog)

        asyncio.run(go())
        return seen

    def catch_up(self) -> None:
        """Steps without new traffic until everything is committed."""

        async def go() -> None:
            for _ in range(500):
                await self.bridge.step()
                if sum(self.source.committed.values()) == len(self.produced):
                    return
            raise AssertionError("the bridge did not catch up")

        asyncio.run(go())

    def assert_everything_delivered_once(self) -> None:
        delivered = [m.event_id for s in self.store.streams.values() for _, m in s.entries]
        valid = [orjson.loads(v)["event_id"] for v in self.produced if v != b"{not json"]
        assert sorted(delivered) == sorted(valid)
        assert len(self.dlq.letters) == len(self.produced) - len(valid)


@pytest.mark.parametrize("on_open", [OpenPolicy.DROP, OpenPolicy.PAUSE])
def test_a_dead_letter_outage_keeps_the_backlog_bounded_and_the_retry_comes(
    on_open: OpenPolicy,
) -> None:
    t = Traffic(on_open)
    t.step(3)
    t.dlq.available = False
    backlogs = t.step(60)  # before the fix, under drop: 2,000 after 20 steps, 6,000 after 60
    assert max(backlogs) <= BOUND + 2 * BATCH  # the bound, plus what was already fetched
    assert t.source.paused() == frozenset(PARTITIONS)
    attempts = t.dlq.calls
    t.step(50)  # five seconds, the wait at its cap of 2 s: the timer brings a retry twice
    assert t.dlq.calls >= attempts + 2
    t.dlq.available = True
    t.catch_up()
    assert t.source.paused() == frozenset()
    t.assert_everything_delivered_once()


@pytest.mark.parametrize("on_open", [OpenPolicy.DROP, OpenPolicy.PAUSE])
def test_a_dead_letter_outage_keeps_the_backlog_bounded_in_bytes_too(on_open: OpenPolicy) -> None:
    # Records of ~10 KB: the count bound (10,000) is far; the bytes bound (1 MB) is not.
    t = Traffic(on_open, max_backlog_records=10_000, max_backlog_bytes=1_000_000, pad=10_000)
    t.step(2)
    t.dlq.available = False
    t.step(40)
    held = t.bridge.health().backlog_bytes
    batch_bytes = BATCH * 10_500
    assert 0 < held <= 1_000_000 + 2 * batch_bytes  # the bound, plus what was already fetched
    assert t.bridge.backlog < 10_000
    assert t.source.paused() == frozenset(PARTITIONS)
    t.dlq.available = True
    t.catch_up()
    assert t.source.paused() == frozenset()
    assert t.bridge.health().backlog_bytes == 0
    t.assert_everything_delivered_once()


def retry_gaps(t: Traffic, *, steps: int) -> list[int]:
    """A write fails now (new traffic, the dead-letter topic down); then, over `steps` steps of
    0.1 s without new traffic, the seconds between one try and the next."""
    t.step()
    tries = [t.clock.monotonic()]

    async def go() -> None:
        for _ in range(steps):
            calls = t.dlq.calls
            t.clock.advance(0.1)
            await t.bridge.step()
            if t.dlq.calls > calls:
                tries.append(t.clock.monotonic())

    asyncio.run(go())
    return [round(b - a) for a, b in itertools.pairwise(tries)]


def test_each_failed_retry_in_a_row_doubles_the_wait_up_to_its_cap() -> None:
    t = Traffic(OpenPolicy.PAUSE, retry_backoff_max_s=8.0)
    t.dlq.available = False
    gaps = retry_gaps(t, steps=450)  # 45 s of an outage that lasts
    # The first failure waits retry_backoff_s (1 s), each failed retry after it twice as long.
    assert gaps[:6] == [1, 2, 4, 8, 8, 8], gaps
    t.dlq.available = True
    t.catch_up()
    t.dlq.available = False  # a new outage starts at the first wait again
    assert retry_gaps(t, steps=60)[:3] == [1, 2, 4]
    t.dlq.available = True
    t.catch_up()
    t.assert_everything_delivered_once()


def test_a_redis_outage_under_drop_keeps_only_the_failed_batch_and_counts_the_dropped() -> None:
    t = Traffic(OpenPolicy.DROP)
    t.step(3)
    t.store.available = False
    backlogs = t.step(60)
    assert max(backlogs) <= BOUND + 2 * BATCH
    t.store.available = True
    t.clock.advance(10)  # the breaker's cool-down
    t.catch_up()
    assert t.source.paused() == frozenset()
    delivered = [m.event_id for s in t.store.streams.values() for _, m in s.entries]
    assert len(delivered) == len(set(delivered))
    dropped = sum(t.bridge.totals.dropped_by_reason.values())
    assert dropped > 0
    assert len(delivered) + dropped + len(t.dlq.letters) == len(t.produced)
