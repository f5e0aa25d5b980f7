"""The event filter: each rule of SPEC §4, its reason code, and the order of the checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from domain_samples import (
    CORRELATION,
    NOW,
    SESSION,
    flat_command,
    flat_proposed,
    nested_started,
    no_owner,
    owned_by,
)

from domain.filter import DEFAULT_WHITELIST, MAX_REMEMBERED_TYPES, EventFilter, FilterPolicy
from domain.model import Envelope
from domain.reasons import Reason, Rejection, Verdict

pytestmark = pytest.mark.unit

FILTER = EventFilter(FilterPolicy())


def _check(obj: Any, headers: Any = None, owner: Any = no_owner, **kw: Any) -> Any:
    return FILTER.check(obj, headers or {}, now=kw.get("now", NOW), session_owner=owner)


def _reason(obj: Any, **kw: Any) -> Reason:
    result = _check(obj, **kw)
    assert isinstance(result, Rejection), result
    assert result.message
    return result.reason


def test_filter_accepts_a_flat_command_routed_to_its_server_set_user() -> None:
    env = _check(flat_command(), headers={"correlation_id": CORRELATION})
    assert isinstance(env, Envelope)
    assert (env.user_id, env.correlation_id) == ("42", CORRELATION)
    assert env.timestamp_s == NOW.timestamp() - 29.75


def test_filter_accepts_an_ai_agent_event_through_the_session_owner() -> None:
    env = _check(flat_proposed(), owner=owned_by("42"))
    assert isinstance(env, Envelope)
    assert env.user_id_from_owner


def test_filter_accepts_a_nested_started_event() -> None:
    env = _check(nested_started())
    assert isinstance(env, Envelope)
    assert env.novel_id is not None


def test_filter_rejects_a_value_that_is_not_an_object() -> None:
    assert _reason([1, 2]) is Reason.NOT_AN_OBJECT


@pytest.mark.parametrize("field", ["event_id", "event_type", "aggregate_id"])
def test_filter_requires_the_envelope_fields(field: str) -> None:
    event = flat_command()
    del event[field]
    result = _check(event)
    assert result == Rejection(Reason.MISSING_FIELD, f"missing field {field!r}")


@pytest.mark.parametrize("value", [3, "", None, ["Genesis.Session.Started"]])
def test_filter_requires_a_non_empty_string_event_type(value: Any) -> None:
    expected = Reason.MISSING_FIELD if value is None else Reason.BAD_EVENT_TYPE
    assert _reason(flat_command(event_type=value)) is expected


@pytest.mark.parametrize(
    "value",
    [
        "Genesis.Session.Started\r\nevent: Genesis.Session.Finished",  # would forge an SSE event
        "Genesis.Session.Started\x00",
        "Genesis.Session.\ud800Started",  # json.loads lets a lone surrogate through
        "Genesis.Session." + "A" * 300 + ".Requested",
    ],
)
def test_an_event_type_unfit_for_the_sse_event_line_is_invalid_even_if_whitelisted(
    value: str,
) -> None:
    permissive = EventFilter(FilterPolicy(whitelist=(r"Genesis\.Session\.[\s\S]*",)))
    result = permissive.check(flat_command(event_type=value), {}, now=NOW, session_owner=no_owner)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.BAD_EVENT_TYPE
    assert len(result.message) < 200


def test_filter_ignores_types_outside_genesis_sessions() -> None:
    result = _check(flat_command(event_type="Genesis.Novel.Created"))
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NOT_SESSION_EVENT
    assert result.verdict is Verdict.IGNORED


@pytest.mark.parametrize(
    "suffix",
    [
        "Started",
        "Command.Received",
        "Theme.Requested",
        "Seed.Generated",
        "Plot.Evaluated",
        "Theme.Proposed",
        "World.Confirmed",
        "Stage.Confirmed",
        "Character.Updated",
        "Theme.Revised",
        "Branch.Draft.Created",
        "StageCompleted",
        "Finished",
        "Failed",
        "BranchCreated",
    ],
)
def test_default_whitelist_lets_browser_events_through(suffix: str) -> None:
    assert isinstance(_check(flat_command(event_type=f"Genesis.Session.{suffix}")), Envelope)


@pytest.mark.parametrize(
    "suffix",
    ["Requested", "Command.Received.Extra", "Heartbeat", "Theme.Proposed2", ".Proposed", "Theme"],
)
def test_default_whitelist_matches_whole_types_only(suffix: str) -> None:
    result = _check(flat_command(event_type=f"Genesis.Session.{suffix}"))
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NOT_WHITELISTED
    assert result.verdict is Verdict.IGNORED


def test_event_types_judged_again_get_the_same_verdicts_past_the_bound_of_remembered_types() -> (
    None
):
    """The filter remembers verdicts per event type; a producer inventing types (the `*` of the
    whitelist matches unboundedly many) neither grows that memory nor changes any verdict."""
    fresh = EventFilter(FilterPolicy())
    letters = [chr(ord("a") + n // 26) + chr(ord("a") + n % 26) for n in range(300)]
    types = [f"Genesis.Session.Made{name}.Proposed" for name in letters]
    types += [f"Genesis.Session.Nope{n}" for n in range(MAX_REMEMBERED_TYPES)]
    types += [f"Genesis.Other.{n}" for n in range(300)]

    def verdicts() -> list[object]:
        out: list[object] = []
        for event_type in types:
            result = fresh.check(
                flat_command(event_type=event_type), {}, now=NOW, session_owner=no_owner
            )
            out.append(result.reason if isinstance(result, Rejection) else result.event_type)
        return out

    first, again = verdicts(), verdicts()
    assert first == again
    assert first[:300] == types[:300]  # whitelisted by the `*`
    assert set(first[300 : 300 + MAX_REMEMBERED_TYPES]) == {Reason.NOT_WHITELISTED}
    assert set(first[-300:]) == {Reason.NOT_SESSION_EVENT}
    assert len(fresh._types) == MAX_REMEMBERED_TYPES


def test_a_custom_whitelist_replaces_the_default() -> None:
    only_started = EventFilter(FilterPolicy(whitelist=(r"Genesis\.Session\.Started",)))
    result = only_started.check(flat_command(), {}, now=NOW, session_owner=no_owner)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NOT_WHITELISTED


def test_a_bad_whitelist_regex_is_refused_naming_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"Genesis\[\("):
        FilterPolicy(whitelist=(*DEFAULT_WHITELIST, "Genesis[("))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_future_skew_s", -1.0), ("max_future_skew_s", float("inf")), ("max_record_bytes", 0)],
)
def test_filter_policy_refuses_bad_limits_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        FilterPolicy(**{field: value})


@pytest.mark.parametrize("user", ["{42}", "a b", "", "x" * 129, 4.2, True, {"id": 1}, ["42"], "ü"])
def test_filter_refuses_a_user_id_unfit_for_a_hash_tag(user: Any) -> None:
    expected = Reason.NO_USER if user == "" else Reason.BAD_USER_ID
    assert _reason(flat_command(user_id=user, metadata={})) is expected


def test_filter_accepts_an_integer_user_id_as_its_decimal_string() -> None:
    env = _check(flat_command(user_id=42))
    assert isinstance(env, Envelope)
    assert env.user_id == "42"


def test_an_invalid_server_set_user_id_does_not_fall_back_to_another() -> None:
    assert _reason(flat_command(user_id="{99}")) is Reason.BAD_USER_ID


def test_filter_rejects_an_unroutable_event_with_no_user() -> None:
    result = _check(flat_proposed())
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NO_USER
    assert SESSION in result.message


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            nested_started(payload=dict(nested_started()["payload"], session_id="s-1")),
            "payload.session_id is not a UUID: 's-1'",
        ),
        (flat_command(event_id="evt-1"), "event_id is not a UUID: 'evt-1'"),
        (
            flat_command(aggregate_id="GenesisFlow-1", session_id=SESSION),
            "aggregate_id is not a UUID: 'GenesisFlow-1'",
        ),
        (flat_command(correlation_id="req-7"), "correlation_id is not a UUID: 'req-7'"),
        (flat_command(novel_id="novel-1"), "novel_id is not a UUID: 'novel-1'"),
        (flat_command(session_id=SESSION + "\n"), "session_id is not a UUID: '"),
    ],
)
def test_filter_requires_uuids_naming_the_field(event: dict[str, Any], message: str) -> None:
    result = _check(event)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.BAD_UUID
    assert result.message.startswith(message)


def test_filter_checks_a_header_correlation_id_too() -> None:
    result = _check(flat_command(), headers={"correlation_id": "abc"})
    assert isinstance(result, Rejection)
    assert result.message == "header correlation_id is not a UUID: 'abc'"


def test_uuids_are_case_insensitive() -> None:
    assert isinstance(_check(flat_command(event_id=flat_command()["event_id"].upper())), Envelope)


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", "1999-12-31T23:59:59Z"])
def test_filter_rejects_a_bad_timestamp(value: str) -> None:
    assert _reason(flat_command(created_at=value)) is Reason.BAD_TIMESTAMP


def test_filter_rejects_a_timestamp_of_the_wrong_type() -> None:
    assert _reason(flat_command(created_at=1740830400)) is Reason.WRONG_TYPE


def test_filter_allows_the_configured_future_skew_and_no_more() -> None:
    at_limit = (NOW + timedelta(seconds=300)).isoformat()
    beyond = (NOW + timedelta(seconds=301)).isoformat()
    assert isinstance(_check(flat_command(created_at=at_limit)), Envelope)
    result = _check(flat_command(created_at=beyond))
    assert result == Rejection(
        Reason.FUTURE_TIMESTAMP, "created_at is 301 s in the future (limit 300 s)"
    )


def test_a_naive_timestamp_is_taken_as_utc() -> None:
    env = _check(flat_command(created_at="2025-03-01T12:00:00"))
    assert isinstance(env, Envelope)
    assert env.timestamp_s == NOW.timestamp() - 30


def test_a_naive_now_is_taken_as_utc() -> None:
    assert isinstance(_check(flat_command(), now=NOW.replace(tzinfo=None)), Envelope)


def test_an_earlier_failing_check_wins_over_a_later_one() -> None:
    # Each event fails the named check and every check after it.
    cases: list[tuple[dict[str, Any], Reason]] = [
        (
            flat_command(event_id=None, event_type="Other.Thing", created_at="x"),
            Reason.MISSING_FIELD,
        ),
        (flat_command(event_type=7, event_id="x", user_id="{}"), Reason.BAD_EVENT_TYPE),
        (flat_command(event_type="Genesis.Novel.X", user_id="{}"), Reason.NOT_SESSION_EVENT),
        (flat_command(event_type="Genesis.Session.X", user_id="{}"), Reason.NOT_WHITELISTED),
        (flat_command(user_id="{}", event_id="x"), Reason.BAD_USER_ID),
        (flat_proposed(event_id="x", created_at="x"), Reason.NO_USER),
        (flat_command(event_id="x", created_at="x"), Reason.BAD_UUID),
        (flat_command(created_at="x"), Reason.BAD_TIMESTAMP),
    ]
    for event, reason in cases:
        assert _reason(event) is reason, event
