"""Telemetry observes and never raises (the port's promise): a telemetry that breaks that
promise neither kills the bridge nor changes what it writes, commits or dead-letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import orjson
import pytest

from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.ports import BatchReport, PublishResult, PublishTrace
from domain.breaker import BreakerPolicy, CircuitBreaker
from domain.model import Partition, Record, SseMessage
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)
COMMAND = "Genesis.Session.Command.Received"
# Sampled: each delivery of a record with it is handed to `publish_started`.
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Broken(Exception):
    """What a telemetry bug raises: nothing the bridge knows."""


class BrokenTrace:
    def succeeded(self, results: Sequence[PublishResult]) -> None:
        raise Broken("succeeded")

    def failed(self, error: str) -> None:
        raise Broken("failed")


class BrokenTelemetry:
    """Every call raises, or hands back a trace whose every call raises (`trace_only`)."""

    def __init__(self, *, trace_only: bool = False) -> None:
        self.trace_only = trace_only
        self.calls = 0

    def _raise(self) -> None:
        self.calls += 1
        if not self.trace_only:
            raise Broken("telemetry")

    def batch_processed(self, report: BatchReport) -> None:
        self._raise()

    def publish_started(self, traced: Sequence[tuple[Record, SseMessage]]) -> PublishTrace:
        self._raise()
        return BrokenTrace()

    def breaker_changed(self, old: str, new: str) -> None:
        self._raise()

    def partitions_paused(self, count: int) -> None:
        self._raise()

    def partitions_resumed(self, count: int) -> None:
        self._raise()


def _fill(clock: FakeClock, source: FakeEventSource, n: int) -> list[str]:
    ids = []
    for i in range(n):
        session = str(uuid.uuid4())
        value = flat_event(clock.wall(), session, "7", COMMAND)
        headers = (("traceparent", TRACEPARENT),) if i % 2 else ()
        source.append(P, session.encode(), value, headers)
        ids.append(orjson.loads(value)["event_id"])
    source.append(P, b"k", b"{not json")
    return ids


@pytest.mark.parametrize("trace_only", [False, True], ids=["every_call", "its_traces"])
def test_a_telemetry_that_raises_changes_nothing_the_bridge_writes_or_commits(
    trace_only: bool,
) -> None:
    clock = FakeClock()
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    telemetry = BrokenTelemetry(trace_only=trace_only)
    bridge = bridge_over_fakes(clock, source, store=store, dead_letters=dlq, telemetry=telemetry)
    ids = _fill(clock, source, 6)

    async def go() -> None:
        for _ in range(4):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    assert telemetry.calls > 0
    assert [m.event_id for m in store.events_of("7")] == ids
    assert [letter.code for letter in dlq.letters] == ["invalid_json"]
    assert source.committed[P] == 7
    assert (bridge.totals.published, bridge.totals.dead_lettered) == (6, 1)


def test_a_telemetry_that_raises_through_an_outage_lets_the_bridge_pause_and_recover() -> None:
    clock = FakeClock()
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    breaker = CircuitBreaker(BreakerPolicy(minimum_calls=1, cool_down_s=5))
    bridge = bridge_over_fakes(
        clock, source, store=store, telemetry=BrokenTelemetry(), breaker=breaker
    )
    ids = _fill(clock, source, 4)
    store.available = False

    async def go() -> None:
        for _ in range(3):
            await bridge.step()
        assert breaker.state.value == "open"
        assert source.paused() == {P}
        store.available = True
        for _ in range(20):
            clock.advance(1)
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    assert [m.event_id for m in store.events_of("7")] == ids
    assert source.paused() == frozenset()
    assert source.committed[P] == 5
    assert breaker.state.value == "closed"
