"""Each record's fields are extracted once, and a batch is triaged once, whatever the index says."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import orjson
import pytest

import domain.filter
from application.fakes import FakeClock, FakeEventSource, FakeStreamStore
from application.policy import BridgePolicy
from domain.fields import typed_event
from domain.model import Partition
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the filter extracted each event's fields, by event id."""
    seen: Counter[str] = Counter()

    def counting(obj: object, headers: Any) -> Any:
        if isinstance(obj, dict):
            seen[str(obj.get("event_id"))] += 1
        return typed_event(obj, headers)

    monkeypatch.setattr(domain.filter, "typed_event", counting)
    return seen


@pytest.mark.parametrize("max_batch", [100, 2], ids=["one batch", "overlapped batches"])
def test_an_owner_the_index_answers_decides_only_the_events_that_waited_for_it(
    extracted: Counter[str], max_batch: int
) -> None:
    clock = FakeClock()
    known, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    source, store = FakeEventSource(clock, [P]), FakeStreamStore()
    store.session_owners[known] = "alice"  # taught by another bridge: the lookup answers it
    values = [
        flat_event(clock.wall(), fresh, "bob", "Genesis.Session.Command.Received"),
        flat_event(clock.wall(), known, None),  # waits for the index: alice's
        flat_event(clock.wall(), fresh, None),  # claimed for bob
        flat_event(clock.wall(), known, "carol", "Genesis.Session.Command.Received"),
    ]
    for value in values:
        source.append(P, b"k", value)
    bridge = bridge_over_fakes(clock, source, store=store, policy=BridgePolicy(max_batch=max_batch))

    async def go() -> None:
        for _ in range(4):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    ids = [orjson.loads(v)["event_id"] for v in values]
    assert [extracted[i] for i in ids] == [1, 1, 1, 1]
    assert [m.event_id for m in store.events_of("alice")] == [ids[1]]
    assert [m.event_id for m in store.events_of("bob")] == [ids[0], ids[2]]
    assert [m.event_id for m in store.events_of("carol")] == [ids[3]]
    assert source.committed[P] == 4
