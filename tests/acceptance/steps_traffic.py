"""Steps that make things happen: users, AI agents, producers, and the bridge at work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_bdd import given, parsers, when

from domain.breaker import BreakerState
from simulator.genesis import generate_n
from simulator.genesis_model import Draft
from tests.acceptance.fake_world import FakeWorld
from tests.acceptance.world import World

TRAFFIC_RECORDS = 300


def start_session(world: World, user: str) -> None:
    session = world.events.new_session()
    world.sessions[user] = session
    world.owners[session] = user
    world.last_session = session
    world.add(world.events.command(session, user, first=True), name="command")


@given(parsers.parse("user {user:w} has started a Genesis session"))
def user_started_a_session(world: World, user: str) -> None:
    start_session(world, user)


@when(parsers.parse('the orchestrator records a "{event_type}" event for that session'))
def orchestrator_records(world: World, event_type: str) -> None:
    session = world.last_session
    world.add(
        world.events.orchestrator(session, world.owners[session], event_type), name=event_type
    )


@when("the orchestrator requests a world for that session with an internal note")
def orchestrator_requests_a_world(world: World) -> None:
    session = world.last_session
    event_type = "Genesis.Session.World.Requested"
    draft = world.events.orchestrator(
        session, world.owners[session], event_type, extra={"internal_note": "retry budget 3"}
    )
    world.add(draft, name=event_type)


def _propose(world: World, session: str, *, correlated: bool = True) -> None:
    draft = world.events.agent_proposal(session, world.owners.get(session), correlated=correlated)
    open_breaker = (
        isinstance(world, FakeWorld) and world.bridge.breaker.state is not BreakerState.CLOSED
    )
    world.add(draft, name="proposal while open" if open_breaker else "proposal")
    if open_breaker:
        world.named.setdefault("proposal", []).append(world.produced[-1])


@when("an AI agent proposes a theme for that session")
def agent_proposes(world: World) -> None:
    _propose(world, world.last_session)


@when("an AI agent proposes a theme for that session without a correlation id")
def agent_proposes_uncorrelated(world: World) -> None:
    _propose(world, world.last_session, correlated=False)


@when("an AI agent proposes a theme for each session")
def agents_propose_everywhere(world: World) -> None:
    for session in world.sessions.values():
        _propose(world, session)


@when("AI agents keep proposing for that session")
def agents_keep_proposing(world: World) -> None:
    for _ in range(5):
        _propose(world, world.last_session)


@given(parsers.parse("AI agents have proposed {n:d} times for that session"))
@when(parsers.parse("AI agents propose {n:d} times for that session while the browser is away"))
def agents_propose_n_times(world: World, n: int) -> None:
    for _ in range(n):
        _propose(world, world.last_session)


@when(
    parsers.parse(
        "a client sends a command for that session carrying user {claimed:w} as the owner"
    )
)
def hijack_attempt(world: World, claimed: str) -> None:
    session = world.last_session
    world.add(
        world.events.command(session, world.owners[session], claimed_user=claimed), name="command"
    )


@when(
    parsers.parse(
        "the platform announces in the nested format that user {user:w} started a session"
    )
)
def nested_start(world: World, user: str) -> None:
    session = world.events.new_session()
    world.sessions[user] = session
    world.owners[session] = user
    world.last_session = session
    world.add(world.events.nested_started(session, user), name="start")


@when("the producer sends that proposal again")
def producer_duplicate(world: World) -> None:
    world.add_record(world.last("proposal"), name="proposal again")


@given(
    parsers.parse(
        "a stretch of Genesis traffic from {users:d} users with {pct:d} percent bad records"
    )
)
def a_stretch_of_traffic(world: World, users: int, pct: int) -> None:
    for record in generate_n(
        TRAFFIC_RECORDS, seed=users * 100 + pct, users=users, bad_ratio=pct / 100, clock=world.now
    ):
        world.add_record(record, name="traffic")


def _damage(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def damage(body: dict[str, Any]) -> None:
        body[field] = value

    return damage


def _without_event_id(body: dict[str, Any]) -> None:
    del body["event_id"]


ARRIVALS: dict[str, Callable[[World], tuple[Draft, float]]] = {
    "an orchestrator event of a type nobody subscribed": lambda w: (
        w.events.bad("unknown_type"),
        0,
    ),
    "a novel-service event outside any session": lambda w: (w.events.bad("non_session"), 0),
    "a record cut off in the middle of its text": lambda w: (w.events.truncated(), 0),
    "a record whose text is not UTF-8": lambda w: (w.events.bad("invalid_utf8"), 0),
    "a record that is a list rather than an event": lambda w: (w.events.a_list(), 0),
    "an event without an event id": lambda w: (
        w.events.damaged_command(_without_event_id, "missing_field"),
        0,
    ),
    "an event whose event id is not a UUID": lambda w: (w.events.bad("bad_uuid"), 0),
    "an event whose type is a number": lambda w: (
        w.events.damaged_command(_damage("event_type", 42), "bad_event_type"),
        0,
    ),
    "an event whose user id is an object": lambda w: (
        w.events.damaged_command(_damage("user_id", {"id": 42}), "bad_user_id"),
        0,
    ),
    "an event whose time is not a time": lambda w: (
        w.events.damaged_command(_damage("created_at", "the day after tomorrow"), "bad_timestamp"),
        0,
    ),
    "an event stamped ten minutes in the future": lambda w: (
        w.events.damaged_command(lambda _: None, "future_timestamp"),
        600.0,
    ),
    "an event too large for a browser message": lambda w: (w.events.bad("oversized"), 0),
    "an agent event for a session nobody has claimed": lambda w: (w.events.bad("orphan_agent"), 0),
}


@when(parsers.parse("{what} arrives"))
def something_arrives(world: World, what: str) -> None:
    draft, shift_s = ARRIVALS[what](world)
    world.add(draft, name="arrival", shift_s=shift_s)


@given("the bridge is running")
def bridge_is_running(world: World) -> None:
    world.start()


@given("the bridge has processed what has arrived")
@when("the bridge processes what has arrived")
def bridge_processes(world: World) -> None:
    world.process()
