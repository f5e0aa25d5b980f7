"""BridgeService over the shared fakes with a fake clock: delivery, outages, crashes, rebalances."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy, OpenPolicy
from application.ports import PublishResult, StoreUnavailable
from domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from domain.model import Partition, SseMessage
from simulator.genesis import generate_n
from simulator.genesis_model import SimRecord
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

PARTITIONS = [Partition("genesis", p) for p in range(3)]


@dataclass
class World:
    clock: FakeClock
    source: FakeEventSource
    store: FakeStreamStore
    dlq: FakeDeadLetters
    telemetry: InMemoryTelemetry
    bridge: BridgeService
    records: list[SimRecord]

    def steps(self, n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await self.bridge.step()
            await self.bridge.settle()  # the last batch's write, so the test sees where it stands

        asyncio.run(go())

    def steps_until(self, condition: Callable[[], bool], max_steps: int = 100) -> None:
        async def go() -> None:
            for _ in range(max_steps):
                await self.bridge.step()
                await self.bridge.settle()
                if condition():
                    return
            raise AssertionError("the condition never held")

        asyncio.run(go())

    def run_until_committed(self, max_steps: int = 500) -> None:
        async def go() -> None:
            for _ in range(max_steps):
                await self.bridge.step()
                if self.everything_committed():
                    return
            await self.bridge.settle()
            raise AssertionError("the bridge did not commit everything")

        asyncio.run(go())

    def everything_committed(self) -> bool:
        return all(self.source.committed[p] == len(self.source.logs[p]) for p in PARTITIONS)

    def delivered_ids(self) -> list[str]:
        return [m.event_id for s in self.store.streams.values() for _, m in s.entries]

    def expected_ids(self) -> set[str]:
        return {r.expect.event_id or "" for r in self.records if r.expect.outcome == "delivered"}


def world(n: int = 600, *, on_open: OpenPolicy = OpenPolicy.PAUSE, max_batch: int = 50) -> World:
    clock = FakeClock()
    records = generate_n(n, seed=5, users=8, bad_ratio=0.05, clock=clock.wall)
    source = FakeEventSource(clock, PARTITIONS)
    for r in records:
        source.append(PARTITIONS[zlib.crc32(r.key) % len(PARTITIONS)], r.key, r.value, r.headers)
    store, dlq, telemetry = FakeStreamStore(), FakeDeadLetters(), InMemoryTelemetry()
    bridge = new_bridge(clock, source, store, dlq, telemetry, on_open=on_open, max_batch=max_batch)
    return World(clock, source, store, dlq, telemetry, bridge, records)


def new_bridge(
    clock: FakeClock,
    source: FakeEventSource,
    store: FakeStreamStore,
    dlq: FakeDeadLetters,
    telemetry: InMemoryTelemetry,
    *,
    on_open: OpenPolicy = OpenPolicy.PAUSE,
    max_batch: int = 50,
    commit_interval_s: float = 0.5,
) -> BridgeService:
    """A bridge process as the container builds it, over the given fakes (a fresh memory)."""
    return bridge_over_fakes(
        clock,
        source,
        store=store,
        dead_letters=dlq,
        telemetry=telemetry,
        breaker=CircuitBreaker(BreakerPolicy(window_s=10, minimum_calls=2, cool_down_s=30)),
        policy=BridgePolicy(
            max_batch=max_batch,
            commit_interval_s=commit_interval_s,
            on_open=on_open,
            retry_backoff_s=1.0,
        ),
    )


def test_every_valid_event_is_delivered_once_and_every_offset_committed() -> None:
    w = world()
    w.run_until_committed()
    delivered = w.delivered_ids()
    assert sorted(delivered) == sorted(w.expected_ids())
    invalid = [r for r in w.records if r.expect.outcome == "invalid"]
    assert sorted(letter.code for letter in w.dlq.letters) == sorted(
        r.expect.reason or "" for r in invalid
    )


def test_a_store_outage_under_pause_pauses_partitions_and_commits_nothing_unacknowledged() -> None:
    w = world()
    w.steps(3)
    committed_before = dict(w.source.committed)
    w.store.available = False
    w.steps(3)  # the pipeline finds out: its batches wait, partitions paused
    assert w.source.paused() == frozenset(PARTITIONS)
    w.steps_until(lambda: w.bridge.breaker.state is BreakerState.OPEN)
    assert w.source.paused() == frozenset(PARTITIONS)
    assert any(w.source.committed[p] < len(w.source.logs[p]) for p in PARTITIONS)
    assert all(w.source.committed[p] >= committed_before[p] for p in PARTITIONS)
    acknowledged = set(w.delivered_ids())
    by_value = {r.value: r.expect for r in w.records}
    for p in PARTITIONS:  # every deliverable record below the commit point is in Redis
        for record in w.source.logs[p][: w.source.committed[p]]:
            expect = by_value[record.value]
            if expect.outcome == "delivered":
                assert expect.event_id in acknowledged


def test_the_breaker_probes_on_its_timer_while_paused_and_resumes_when_redis_returns() -> None:
    w = world()
    w.steps(2)
    w.store.available = False
    w.steps(4)
    assert w.bridge.breaker.state is BreakerState.OPEN
    calls = w.store.calls
    w.steps(50)  # nothing new arrives (partitions paused); only the cool-down timer may act
    assert w.store.calls > calls, "a probe must run on the timer, without any new message"
    assert ("open", "half_open") in w.telemetry.transitions
    assert ("half_open", "open") in w.telemetry.transitions
    w.store.available = True
    w.run_until_committed()
    assert ("half_open", "closed") in w.telemetry.transitions
    assert w.source.paused() == frozenset()
    assert sorted(w.delivered_ids()) == sorted(w.expected_ids())
    assert w.telemetry.totals.dropped_by_reason == {}


def test_under_drop_an_outage_keeps_consuming_and_every_undelivered_event_is_counted() -> None:
    w = world(on_open=OpenPolicy.DROP)
    w.steps(2)
    w.store.available = False
    w.steps(40)
    assert w.source.paused() == frozenset()
    w.store.available = True
    w.run_until_committed()
    dropped = sum(w.telemetry.totals.dropped_by_reason.values())
    assert dropped > 0
    undelivered = w.expected_ids() - set(w.delivered_ids())
    orphans_dropped = sum(1 for r in w.records if r.expect.reason == "no_user") - sum(
        1 for letter in w.dlq.letters if letter.code == "no_user"
    )
    assert len(undelivered) + orphans_dropped == dropped
    assert len(w.delivered_ids()) == len(set(w.delivered_ids()))


def test_a_crash_before_commit_redelivers_and_the_store_suppresses_the_duplicates() -> None:
    w = world()
    w.steps(4)
    delivered_before = len(w.delivered_ids())
    assert delivered_before > 0
    assert not w.everything_committed()
    w.source.crash()  # the process dies: what it did not commit comes again to the next one
    w.bridge = new_bridge(w.clock, w.source, w.store, w.dlq, w.telemetry)
    w.run_until_committed()
    assert sorted(w.delivered_ids()) == sorted(w.expected_ids())
    assert w.telemetry.totals.duplicates > 0


def test_revoked_partitions_commit_what_is_done_and_forget_the_rest() -> None:
    w = world()
    w.steps(3)
    w.store.available = False
    w.steps(2)  # a batch is now waiting for Redis
    gone = PARTITIONS[:2]

    asyncio.run(w.source.revoke(gone))
    assert w.source.assignment() == frozenset(PARTITIONS[2:])
    w.store.available = True
    w.clock.advance(60)
    asyncio.run(w.source.assign(gone))  # they come back (to us, as another member would)
    w.run_until_committed()
    assert sorted(w.delivered_ids()) == sorted(w.expected_ids())


def test_a_dead_letter_outage_holds_the_batch_and_commits_nothing_past_it() -> None:
    w = world()
    w.dlq.available = False
    w.steps(10)
    assert not w.everything_committed()
    w.dlq.available = True
    w.run_until_committed()
    invalid = sum(1 for r in w.records if r.expect.outcome == "invalid")
    assert len(w.dlq.letters) == invalid
    assert sorted(w.delivered_ids()) == sorted(w.expected_ids())


def test_shutdown_drains_and_commits_exactly_once() -> None:
    w = world(n=100, max_batch=100)
    stop = asyncio.Event()

    async def go() -> None:
        await w.bridge.step()
        stop.set()
        await w.bridge.run(stop)
        commits = w.source.commits
        await w.bridge.drain()
        assert w.source.commits == commits

    asyncio.run(go())
    assert w.everything_committed()


class GatedStore(FakeStreamStore):
    """A store whose publishes wait for `gate`, to hold a batch's write in flight; with
    `fail_once`, the next publish fails and Redis is healthy again right after it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()  # a publish is waiting at the gate
        self.fail_once = False

    async def publish(self, messages: Sequence[SseMessage]) -> list[PublishResult]:
        self.entered.set()
        await self.gate.wait()
        if self.fail_once:
            self.fail_once = False
            raise StoreUnavailable("the connection dropped mid-write")
        return await super().publish(messages)


def gated_world(on_open: OpenPolicy = OpenPolicy.PAUSE, n: int = 600) -> tuple[World, GatedStore]:
    w = world(n, on_open=on_open)
    w.store = store = GatedStore()
    w.bridge = new_bridge(w.clock, w.source, store, w.dlq, w.telemetry, on_open=on_open)
    return w, store


def fetched(w: World) -> int:
    return sum(len(w.source.logs[p]) - n for p, n in w.source.lag().items())


def in_log_order(w: World) -> bool:
    """Each user's stream holds its events in the order their partitions hold them."""
    event_id = {r.value: r.expect.event_id for r in w.records}
    position = {
        event_id[r.value]: (p, i) for p in PARTITIONS for i, r in enumerate(w.source.logs[p])
    }
    for stream in w.store.streams.values():
        by_partition: dict[Partition, list[int]] = {}
        for _, m in stream.entries:
            p, i = position[m.event_id]
            by_partition.setdefault(p, []).append(i)
        if any(seq != sorted(seq) for seq in by_partition.values()):
            return False
    return True


def test_the_next_batch_is_fetched_and_triaged_while_the_previous_write_is_in_flight() -> None:
    w, store = gated_world()

    async def go() -> None:
        await w.bridge.step()  # batch 1 triaged
        assert not store.entered.is_set()
        await w.bridge.step()  # batch 1's write goes out (and waits at the gate); batch 2
        assert store.entered.is_set()
        assert fetched(w) == 100
        assert w.delivered_ids() == []
        store.gate.set()
        await w.bridge.settle()

    asyncio.run(go())
    assert len(w.delivered_ids()) > 0
    assert in_log_order(w)


@pytest.mark.parametrize("on_open", [OpenPolicy.PAUSE, OpenPolicy.DROP])
def test_a_write_that_fails_while_the_next_batch_waits_loses_nothing_and_keeps_order(
    on_open: OpenPolicy,
) -> None:
    w, store = gated_world(on_open)

    async def go() -> None:
        await w.bridge.step()
        await w.bridge.step()  # batch 1's write in flight, batch 2 triaged
        store.fail_once = True
        store.gate.set()
        await w.bridge.step()  # batch 1's write failed: batch 2 must not go before it
        assert w.bridge.backlog > 0  # batch 1 waits (less its dead letters, which are done)
        w.clock.advance(60)

    asyncio.run(go())
    w.run_until_committed()
    delivered = w.delivered_ids()
    assert len(delivered) == len(set(delivered))
    assert in_log_order(w)
    if on_open is OpenPolicy.PAUSE:
        assert w.bridge.backlog == 0
        assert sorted(delivered) == sorted(w.expected_ids())
        assert w.telemetry.totals.dropped_by_reason == {}
        # Batch 1's dead letters went out beside its failed write, and only that once.
        invalid = [r.expect.reason or "" for r in w.records if r.expect.outcome == "invalid"]
        assert sorted(letter.code for letter in w.dlq.letters) == sorted(invalid)
    else:
        dropped = sum(w.telemetry.totals.dropped_by_reason.values())
        assert len(w.expected_ids() - set(delivered)) <= dropped
        assert dropped > 0


def theme_proposed(clock: FakeClock, session: str, user: str | None) -> bytes:
    """A flat Theme.Proposed for `session`; an agent's (no user id) unless `user` is given."""
    return flat_event(clock.wall(), session, user)


def test_an_owner_only_redis_knows_wins_over_a_claim_later_in_the_same_batch() -> None:
    """The lookup runs beside the batch's first triage; Redis's answer must still win."""
    clock = FakeClock()
    session, p = str(uuid.uuid4()), PARTITIONS[0]
    source, store = FakeEventSource(clock, PARTITIONS), FakeStreamStore()
    store.session_owners[session] = "alice"  # taught by another bridge, before a restart

    def event(user: str | None) -> bytes:
        return theme_proposed(clock, session, user)

    for value in (event(None), event("mallory"), event(None)):  # batches of two, then one
        source.append(p, session.encode(), value)
    bridge = new_bridge(clock, source, store, FakeDeadLetters(), InMemoryTelemetry(), max_batch=2)

    async def go() -> None:
        for _ in range(3):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    assert len(store.events_of("alice")) == 2, "both agent events reach the indexed owner"
    assert len(store.events_of("mallory")) == 1  # its own user id routes only itself


def test_a_bridge_that_caught_up_commits_at_once_not_an_interval_later() -> None:
    w = world(n=120)
    w.bridge = new_bridge(w.clock, w.source, w.store, w.dlq, w.telemetry, commit_interval_s=3600)
    w.steps(3)  # 120 records in batches of 50: all fetched and written, none committed yet
    assert not any(w.source.committed.values())
    w.steps(1)  # the fetch finds nothing new
    assert w.everything_committed()
    assert w.clock.monotonic() - 1000.0 < 1.0  # one empty fetch later, not an hour


@pytest.mark.parametrize("fails", [False, True], ids=["write ok", "write fails"])
def test_a_revoke_while_the_caught_up_bridge_finishes_its_last_writes_waits_for_them(
    fails: bool,
) -> None:
    """The rebalance callback runs whenever the bridge awaits; it must never forget partitions
    between a write being taken and being booked (that crashed the bridge on booking)."""
    w, store = gated_world(n=100)

    async def go() -> None:
        await w.bridge.step()
        await w.bridge.step()  # batch 1's write held at the gate, batch 2 ready
        caught_up = asyncio.create_task(w.bridge.step())  # nothing new: finishes what is left
        await asyncio.sleep(0)  # one turn of the loop: it is now waiting on batch 1's write
        revoke = asyncio.create_task(w.source.revoke(PARTITIONS))
        store.fail_once = fails
        store.gate.set()
        await caught_up
        await revoke
        assert w.bridge.backlog == 0
        assert w.bridge._tracker.in_flight() == 0

    asyncio.run(go())
    if fails:  # nothing committed past the failed write; the next owner gets it all again
        assert w.source.committed == dict.fromkeys(PARTITIONS, 0)
        asyncio.run(w.source.assign(PARTITIONS))
        w.clock.advance(60)
        w.run_until_committed()
    assert w.everything_committed()
    assert sorted(w.delivered_ids()) == sorted(w.expected_ids())


def test_a_record_dead_lettered_beside_a_failed_write_is_not_also_delivered_by_the_retry() -> None:
    """Attempt one dead-letters an agent event (its session's owner comes later in the batch)
    while the Redis write fails; the retry knows the owner, but that record is done."""
    clock = FakeClock()
    session, p = str(uuid.uuid4()), PARTITIONS[0]
    source, store, dlq = FakeEventSource(clock, PARTITIONS), GatedStore(), FakeDeadLetters()
    store.gate.set()

    def event(user: str | None) -> bytes:
        return theme_proposed(clock, session, user)

    source.append(p, session.encode(), event(None))
    source.append(p, session.encode(), event("alice"))
    bridge = new_bridge(clock, source, store, dlq, InMemoryTelemetry(), max_batch=10)
    store.fail_once = True

    async def go() -> None:
        for _ in range(6):
            await bridge.step()
            await bridge.settle()
            clock.advance(60)

    asyncio.run(go())
    assert [(letter.record.offset, letter.code) for letter in dlq.letters] == [(0, "no_user")]
    assert len(store.events_of("alice")) == 1
    assert source.committed[p] == 2
    totals = bridge.totals
    assert (totals.consumed, totals.dead_lettered, totals.published) == (2, 1, 1)


def test_under_drop_partitions_assigned_during_an_outage_are_not_paused() -> None:
    w = world(on_open=OpenPolicy.DROP)
    asyncio.run(w.source.revoke(PARTITIONS[2:]))
    w.store.available = False
    w.steps(3)
    assert w.bridge.backlog > 0  # a failed write waits for its retry
    asyncio.run(w.source.assign(PARTITIONS[2:]))
    assert w.source.paused() == frozenset()
