"""Steps that check outcomes: who received what, what was dead-lettered, ignored, committed."""

from __future__ import annotations

import orjson
from pytest_bdd import parsers, then

from simulator.verify import StreamEntry, Verification, verify
from tests.acceptance.world import Delivered, World


def _ids(messages: list[Delivered]) -> list[str]:
    return [m.event_id for m in messages]


def _event_id(world: World, name: str) -> str:
    event_id = world.last(name).expect.event_id
    assert event_id is not None
    return event_id


@then(parsers.parse('user {user:w} receives the "{event_type}" event'))
def receives_event_of_type(world: World, user: str, event_type: str) -> None:
    got = [m for m in world.received(user) if m.event_id == _event_id(world, event_type)]
    assert [m.event_type for m in got] == [event_type]


def _assert_received(world: World, user: str, name: str) -> None:
    got = world.received(user)
    assert _event_id(world, name) in _ids(got), (
        f"user {user} did not receive the {name}; their stream: {[m.event_type for m in got]}"
    )


@then(parsers.parse("user {user:w} receives the theme proposal"))
def receives_the_proposal(world: World, user: str) -> None:
    _assert_received(world, user, "proposal")


@then(parsers.parse("user {user:w} receives the theme proposal exactly once"))
def receives_the_proposal_once(world: World, user: str) -> None:
    assert _ids(world.received(user)).count(_event_id(world, "proposal")) == 1
    assert world.duplicates_suppressed() >= 1


@then(parsers.parse("user {user:w} receives the command"))
def receives_the_command(world: World, user: str) -> None:
    _assert_received(world, user, "command")


@then(parsers.parse("user {user:w} receives the session start"))
def receives_the_start(world: World, user: str) -> None:
    _assert_received(world, user, "start")


@then(parsers.parse("user {user:w} receives nothing"))
def receives_nothing(world: World, user: str) -> None:
    got = world.received(user)
    assert got == [], f"user {user} received {[m.event_type for m in got]}"


@then(parsers.parse("user {user:w} receives only events of their own session"))
def receives_only_own_session(world: World, user: str) -> None:
    got = world.received(user)
    assert got
    assert {m.data["session_id"] for m in got} == {world.sessions[user]}


@then("the message shows the proposal's content")
def message_shows_content(world: World) -> None:
    proposal = world.last("proposal")
    [message] = [
        m
        for m in world.received(world.owners[world.last_session])
        if m.event_id == proposal.expect.event_id
    ]
    assert message.data["payload"]["content"] == orjson.loads(proposal.value)["content"]


def _the_world_request(world: World) -> tuple[Delivered, dict[str, object]]:
    record = world.last("Genesis.Session.World.Requested")
    [message] = [
        m
        for m in world.received(world.owners[world.last_session])
        if m.event_id == record.expect.event_id
    ]
    return message, orjson.loads(record.value)


@then("the message names the event, its type, its session, its correlation and its time")
def message_names_the_event(world: World) -> None:
    message, body = _the_world_request(world)
    headers = dict(world.last("Genesis.Session.World.Requested").headers)
    assert message.data["event_id"] == body["event_id"]
    assert message.data["event_type"] == body["event_type"]
    assert message.data["session_id"] == body["session_id"]
    assert message.data["correlation_id"] == headers["correlation_id"].decode()
    assert message.data["timestamp"] == body["timestamp"]


@then("the message carries the orchestrator's input")
def message_carries_input(world: World) -> None:
    message, body = _the_world_request(world)
    assert message.data["payload"]["input"] == body["input"]


@then("the message does not carry the internal note")
def message_hides_internal(world: World) -> None:
    message, body = _the_world_request(world)
    assert "internal_note" in body
    assert "internal_note" not in message.data["payload"]
    assert b"retry budget" not in orjson.dumps(message.data)


@then(parsers.parse("the theme proposal user {user:w} receives has no correlation id"))
def proposal_without_correlation(world: World, user: str) -> None:
    [message] = [m for m in world.received(user) if m.event_id == _event_id(world, "proposal")]
    assert message.data["correlation_id"] is None


@then(parsers.parse('the event is ignored as "{reason}"'))
def event_is_ignored(world: World, reason: str) -> None:
    assert world.ignored().get(reason) == 1
    arrival = world.last("arrival")
    assert arrival.expect.event_id not in {
        m.event_id for messages in world.all_received().values() for m in messages
    }


@then("nothing is dead-lettered")
def nothing_dead_lettered(world: World) -> None:
    assert world.dead_letters() == []


@then(parsers.parse('the record is dead-lettered with reason "{reason}"'))
def dead_lettered_with(world: World, reason: str) -> None:
    value = world.last("arrival").value
    assert [letter.reason for letter in world.dead_letters() if letter.value == value] == [reason]


@then("nobody receives it")
def nobody_receives_it(world: World) -> None:
    arrival = world.last("arrival")
    everything = [m for messages in world.all_received().values() for m in messages]
    assert arrival.expect.event_id not in {m.event_id for m in everything}
    meant = {r.expect.event_id for r in world.produced if r is not arrival}
    assert {m.event_id for m in everything} <= meant


@then("the dead letter holds the record's original bytes and key")
def dead_letter_is_original(world: World) -> None:
    arrival = world.last("arrival")
    [letter] = world.dead_letters()
    assert (letter.key, letter.value) == (arrival.key, arrival.value)


@then("everything that arrived is committed")
def all_committed(world: World) -> None:
    assert world.all_committed()


def _verification(world: World) -> Verification:
    streams = {
        user: [
            StreamEntry(
                m.stream_id,
                m.event_id,
                m.event_type,
                str(m.data["session_id"]),
                orjson.dumps(m.data),
            )
            for m in messages
        ]
        for user, messages in world.all_received().items()
    }
    dlq = [
        (letter.value, {"dlq.reason": letter.reason.encode()}) for letter in world.dead_letters()
    ]
    return verify(world.produced, streams, dlq)


@then("every valid event reaches its user exactly once and in session order")
def exactly_once_in_order(world: World) -> None:
    v = _verification(world)
    assert v.expected_delivered > 0
    assert v.exactly_once, v
    assert v.delivered == v.expected_delivered


@then("every malformed record is dead-lettered with its reason")
def malformed_dead_lettered(world: World) -> None:
    v = _verification(world)
    assert v.expected_invalid > 0
    assert v.dlq_exact, v


@then("the bridge reports the repeated events as suppressed duplicates")
def duplicates_reported(world: World) -> None:
    assert world.duplicates_suppressed() > 0


@then(parsers.parse("user {user:w} receives every proposal exactly once and in order"))
def every_proposal_once_in_order(world: World, user: str) -> None:
    proposals = [r.expect.event_id for r in world.named["proposal"]]
    got = [i for i in _ids(world.received(user)) if i in set(proposals)]
    assert got == proposals


@then(parsers.parse("user {user:w} receives the proposals made after Redis came back"))
def receives_later_proposals(world: World, user: str) -> None:
    later = [r.expect.event_id for r in world.named["proposal"][world.notes["redis back at"] :]]
    assert later
    got = _ids(world.received(user))
    assert [i for i in got if i in set(later)] == later


@then(parsers.parse("user {user:w} never receives the proposals that were dropped"))
def never_receives_dropped(world: World, user: str) -> None:
    dropped = {r.expect.event_id for r in world.named["proposal while open"]}
    assert dropped
    assert not dropped & set(_ids(world.received(user)))
