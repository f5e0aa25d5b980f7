"""Session owners over the fakes: only the shared index decides whose owner-less events are."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from application.fakes import FakeClock, FakeDeadLetters, FakeEventSource, FakeStreamStore
from application.owners import OwnerCache
from application.policy import BridgePolicy
from domain.model import Partition, Record
from eventbridge.triager import build_triager
from tests.bridge_over_fakes import bridge_over_fakes, flat_event

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

P = Partition("genesis", 0)


def event(clock: FakeClock, session: str, user: str | None) -> bytes:
    """A flat event of `session`: a user's command when `user` is given, else an agent's."""
    if user is None:
        return flat_event(clock.wall(), session, None)
    return flat_event(clock.wall(), session, user, "Genesis.Session.Command.Received")


def run(
    users: list[str | None], *, index: dict[str, str] | None = None, max_batch: int = 100
) -> tuple[FakeStreamStore, FakeDeadLetters, str]:
    """One session's events (a user's command, or None for an agent's event) through a fresh
    bridge whose index already holds `index` ({"S": owner} names the session)."""
    clock, session = FakeClock(), str(uuid.uuid4())
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    for owner in (index or {}).values():
        store.session_owners[session] = owner
    for user in users:
        source.append(P, session.encode(), event(clock, session, user))
    bridge = bridge_over_fakes(
        clock, source, store=store, dead_letters=dlq, policy=BridgePolicy(max_batch=max_batch)
    )

    async def go() -> None:
        for _ in range(len(users) + 3):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    assert source.committed[P] == len(users)
    return store, dlq, session


def kinds(store: FakeStreamStore, user: str) -> list[str]:
    return [m.event_type.rsplit(".", 2)[-2] for m in store.events_of(user)]


@pytest.mark.parametrize("max_batch", [100, 1], ids=["one batch", "batches of one"])
def test_an_agent_event_after_a_foreign_command_goes_to_the_owner_the_index_knows(
    max_batch: int,
) -> None:
    store, dlq, _ = run(["A", None], index={"S": "B"}, max_batch=max_batch)
    assert kinds(store, "B") == ["Theme"]
    assert kinds(store, "A") == ["Command"]
    assert dlq.letters == []


@pytest.mark.parametrize("max_batch", [100, 2, 1], ids=["one batch", "twos", "batches of one"])
def test_an_agent_event_after_its_sessions_first_command_goes_to_that_user(
    max_batch: int,
) -> None:
    store, dlq, session = run(["A", None, None], max_batch=max_batch)
    assert kinds(store, "A") == ["Command", "Theme", "Theme"]
    assert store.session_owners == {session: "A"}
    assert dlq.letters == []


def test_an_agent_event_before_any_command_of_its_session_has_no_owner() -> None:
    store, dlq, _ = run([None, "A", None])
    assert [letter.code for letter in dlq.letters] == ["no_user"]
    assert kinds(store, "A") == ["Command", "Theme"]


def test_an_agent_event_before_the_command_goes_to_an_owner_the_index_already_had() -> None:
    store, dlq, _ = run([None, "A", None], index={"S": "A"})
    assert kinds(store, "A") == ["Theme", "Command", "Theme"]
    assert dlq.letters == []


def test_the_first_of_two_commands_in_one_batch_owns_the_session() -> None:
    store, _, session = run(["A", "B", None])
    assert store.session_owners == {session: "A"}
    assert kinds(store, "A") == ["Command", "Theme"]


def test_triage_never_makes_a_records_user_an_owner_by_itself() -> None:
    clock, session = FakeClock(), str(uuid.uuid4())
    owners = OwnerCache()
    triager = build_triager(owners=owners)
    records = [Record(P, i, None, event(clock, session, u)) for i, u in enumerate(["A", None])]
    triage = triager.triage(triager.decode(records), now=clock.wall())
    assert owners.get(session) is None
    assert triage.claims == {session: "A"}
    assert [m.user_id for _, m in triage.deliver] == ["A"]  # the agent's event waits...
    assert [w.record.offset for w in triage.waiting] == [1]  # ...for the index's answer
    triager.settle(triage, {session: "B"})  # B owned it before: only the waiting one is decided
    assert owners.get(session) == "B"
    assert [(r.offset, m.user_id) for r, m in triage.deliver] == [(0, "A"), (1, "B")]


def test_the_owner_a_publish_found_in_the_index_is_what_the_cache_learns() -> None:
    clock, session = FakeClock(), str(uuid.uuid4())
    owners = OwnerCache()
    triager = build_triager(owners=owners)
    triage = triager.triage(
        triager.decode([Record(P, 0, None, event(clock, session, "A"))]), now=clock.wall()
    )
    assert not triage.asks
    triager.published(triage.deliver, ["B"])
    assert owners.get(session) == "B"


@pytest.mark.parametrize("path", ["lookup", "claim"])
def test_an_owner_key_redis_refuses_dead_letters_that_sessions_waiting_events_only(
    path: str,
) -> None:
    clock = FakeClock()
    poisoned, other = str(uuid.uuid4()), str(uuid.uuid4())
    source, store, dlq = FakeEventSource(clock, [P]), FakeStreamStore(), FakeDeadLetters()
    store.refused_sessions.add(poisoned)
    # lookup: the agent's event only asks the index; claim: the user's command before it in
    # the batch names the user, so the index is asked to make that user the owner.
    mine = [event(clock, poisoned, None)]
    if path == "claim":
        mine.insert(0, event(clock, poisoned, "7"))
    records = [(other, event(clock, other, "13")), *((poisoned, v) for v in mine)]
    records.append((other, event(clock, other, "13")))
    for session, value in records:
        source.append(P, session.encode(), value)
    bridge = bridge_over_fakes(clock, source, store=store, dead_letters=dlq)

    async def go() -> None:
        for _ in range(4):
            await bridge.step()
        await bridge.settle()

    asyncio.run(go())
    [letter] = dlq.letters
    assert letter.record.value == mine[-1]
    assert letter.code == "internal_error"
    assert "owner" in letter.message
    assert "WRONGTYPE" in letter.message
    assert kinds(store, "13") == ["Command", "Command"]
    assert kinds(store, "7") == (["Command"] if path == "claim" else [])
    assert source.committed[P] == len(records)
    assert bridge.breaker.state.value == "closed"
    assert bridge.health().publish_failed == 0  # a refusal is no outage
