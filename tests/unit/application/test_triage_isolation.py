"""Anything raised while handling one record is that record's problem (SPEC §15)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from adapters.telemetry.memory import InMemoryTelemetry
from application.bridge import BridgeService
from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from domain.breaker import CircuitBreaker
from domain.model import Partition, Record
from eventbridge.triager import build_triager
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)


def command(clock: FakeClock, session: str, user: str, **body: Any) -> bytes:
    return flat_event(clock.wall(), session, user, "Genesis.Session.Command.Received", **body)


def bridge_with(
    clock: FakeClock,
    source: FakeEventSource,
    store: FakeStreamStore,
    dlq: FakeDeadLetters,
    *,
    loads: Callable[[bytes], Any] = orjson.loads,
    dumps: Callable[[Any], bytes] = orjson.dumps,
) -> BridgeService:
    return bridge_over_fakes(
        clock,
        source,
        store=store,
        dead_letters=dlq,
        telemetry=InMemoryTelemetry(),
        breaker=CircuitBreaker(),
        triager=build_triager(loads=loads, dumps=dumps),
        policy=BridgePolicy(max_batch=100),
    )


def run_through(bridge: BridgeService, steps: int = 4) -> None:
    async def go() -> None:
        for _ in range(steps):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())


def hostile(marker: bytes, error: type[Exception]) -> Callable[[Any], Any]:
    """A serialiser that raises `error` (not one it is known to raise) on values with `marker`."""

    def call(value: Any) -> Any:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        if marker in raw:
            raise error("unexpected")
        return orjson.loads(value) if isinstance(value, bytes) else raw

    return call


@pytest.mark.parametrize("phase", ["decoding", "checking"])
def test_a_record_whose_handling_raises_is_dead_lettered_and_the_batch_goes_on(
    phase: str,
) -> None:
    clock = FakeClock()
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    session = str(uuid.uuid4())
    values = [
        command(clock, session, "7"),
        command(clock, session, "7", marker="boom"),
        command(clock, session, "7"),
    ]
    for value in values:
        source.append(P, session.encode(), value)
    hook = hostile(b"boom", LookupError)
    bridge = (
        bridge_with(clock, source, store, dlq, loads=hook)
        if phase == "decoding"
        else bridge_with(clock, source, store, dlq, dumps=hook)
    )
    run_through(bridge)
    [letter] = dlq.letters
    assert (letter.record.offset, letter.code) == (1, "internal_error")
    assert letter.message == f"LookupError: unexpected while {phase} the record"
    delivered = [m.event_id for m in store.events_of("7")]
    assert delivered == [orjson.loads(values[0])["event_id"], orjson.loads(values[2])["event_id"]]
    assert source.committed[P] == 3
    assert bridge.totals.invalid_by_reason == {"internal_error": 1}


def test_cancellation_while_a_record_is_decoded_is_never_swallowed() -> None:
    def cancelled(_: bytes) -> Any:
        raise asyncio.CancelledError

    triager = build_triager(loads=cancelled)
    with pytest.raises(asyncio.CancelledError):
        triager.decode([Record(P, 0, None, b"{}")])


def test_a_message_the_store_refuses_for_good_is_dead_lettered_and_its_batch_finished() -> None:
    clock = FakeClock()
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    store.refused_users.add("13")
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    for session, user in ((mine, "7"), (theirs, "13"), (mine, "7")):
        source.append(P, session.encode(), command(clock, session, user))
    bridge = bridge_with(clock, source, store, dlq)
    run_through(bridge)
    [letter] = dlq.letters
    assert (letter.record.offset, letter.code) == (1, "internal_error")
    assert "WRONGTYPE" in letter.message
    assert len(store.events_of("7")) == 2
    assert source.committed[P] == 3
    totals = bridge.totals
    assert (totals.published, totals.dead_lettered, totals.duplicates) == (2, 1, 0)
    assert totals.invalid_by_reason == {"internal_error": 1}
    assert bridge.breaker.state.value == "closed"
