"""Properties of the filter over arbitrary JSON: it never raises, and routing is never spoofed."""

from __future__ import annotations

from typing import Any

import pytest
from domain_samples import NOW, dumps, flat_command, flat_proposed, nested_started, owned_by
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.envelope import normalise
from domain.filter import EventFilter
from domain.mapper import SseMapper
from domain.model import Envelope, SseMessage
from domain.reasons import Reason, Rejection

pytestmark = pytest.mark.unit

FILTER = EventFilter()
MAPPER = SseMapper(dumps=dumps)
FIELDS = [
    "event_id",
    "event_type",
    "aggregate_id",
    "aggregate_type",
    "created_at",
    "correlation_id",
    "metadata",
    "payload",
    "session_id",
    "user_id",
    "timestamp",
    "novel_id",
    "content",
    "internal_x",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "None", "Genesis.Session.Started", "2025-03-01T12:00:00Z", "42"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
VALID = st.sampled_from([flat_command, flat_proposed, nested_started])


def _run(obj: Any, headers: dict[str, str]) -> Envelope | Rejection:
    normalise(obj, headers, session_owner=owned_by("42"))
    result = FILTER.check(obj, headers, now=NOW, session_owner=owned_by("42"))
    if isinstance(result, Rejection):
        assert isinstance(result.reason, Reason)
        assert result.message
    else:
        message = MAPPER.to_message(result)
        assert isinstance(message, SseMessage | Rejection)
    return result


@settings(deadline=None, max_examples=200)
@given(obj=JSON, correlation=st.text(max_size=40))
def test_filter_never_raises_on_arbitrary_json(obj: Any, correlation: str) -> None:
    _run(obj, {"correlation_id": correlation})


@settings(deadline=None, max_examples=200)
@given(
    make=VALID,
    replaced=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
    removed=st.sets(st.sampled_from(FIELDS), max_size=3),
    inner=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=3),
)
def test_filter_never_raises_on_mutated_envelopes(
    make: Any, replaced: dict[str, Any], removed: set[str], inner: dict[str, Any]
) -> None:
    event = make() | replaced
    for key in removed:
        event.pop(key, None)
    if isinstance(event.get("payload"), dict):
        event["payload"] = event["payload"] | inner
    _run(event, {})


@settings(deadline=None, max_examples=200)
@given(client_payload=JSON, client_user=JSON)
def test_a_client_payload_never_changes_who_a_flat_event_is_routed_to(
    client_payload: Any, client_user: Any
) -> None:
    payload = client_payload if isinstance(client_payload, dict) else {"x": client_payload}
    event = flat_command(payload=payload | {"user_id": client_user, "session_id": "spoof"})
    result = FILTER.check(event, {}, now=NOW, session_owner=owned_by("7"))
    assert isinstance(result, Envelope)
    assert (result.user_id, result.session_id) == ("42", event["session_id"])
