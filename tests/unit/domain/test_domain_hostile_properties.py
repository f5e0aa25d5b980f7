"""Hostile input at the domain level: decode, check, map and render never raise (SPEC §15)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from domain_samples import NOW, flat_command, flat_proposed, nested_started, owned_by
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.envelope import decode
from domain.filter import EventFilter
from domain.mapper import SseMapper
from domain.model import Envelope, SseMessage
from domain.reasons import Reason, Rejection, shown

pytestmark = pytest.mark.unit

FILTER = EventFilter()
MAPPERS = [SseMapper(dumps=orjson.dumps), SseMapper(dumps=lambda v: json.dumps(v).encode())]
LOADS = [orjson.loads, json.loads]
FIELDS = [
    "event_id", "event_type", "aggregate_id", "aggregate_type", "created_at", "correlation_id",
    "metadata", "payload", "session_id", "user_id", "timestamp", "novel_id", "content", "input",
]  # fmt: skip
FAST = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def nest(value: Any, depth: int, as_object: bool) -> Any:
    for _ in range(depth):
        value = {"a": value} if as_object else [value]
    return value


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**64, -(2**63) - 1, 10**40])
    | st.builds(pow, st.just(10), st.just(5000))  # too long to convert to text at all
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)  # includes lone surrogates
    | st.sampled_from(["\ud800", "\r\nevent: x", "\x00", "Genesis.Session.Started", "42", ""])
    | st.text(min_size=1, max_size=1).map(lambda c: c * 100_000)
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
DEEP = st.builds(nest, JSONISH, st.integers(0, 3000), st.booleans())
VALUES = JSONISH | DEEP
HEADERS = st.dictionaries(
    st.sampled_from(["correlation_id", "traceparent", "event_type", "", "x"]),
    st.text(max_size=40) | st.sampled_from(["None", "\ud800", "x" * 10_000]),
    max_size=4,
)


def assert_a_clear_verdict(result: object) -> None:
    assert isinstance(result, Envelope | SseMessage | Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, Reason)
        assert 0 < len(result.message) < 500
        result.message.encode("utf-8")  # goes into a Kafka header as it is


def run_all(obj: Any, headers: dict[str, str]) -> None:
    owners = owned_by("42")
    result = FILTER.check(obj, headers, now=NOW, session_owner=owners)
    assert_a_clear_verdict(result)
    if isinstance(result, Envelope):
        for mapper in MAPPERS:
            assert_a_clear_verdict(mapper.to_message(result))


@FAST
@given(raw=st.binary(max_size=3000), max_bytes=st.sampled_from([10, 1024, 1_048_576]))
def test_decode_never_raises_on_any_bytes(raw: bytes, max_bytes: int) -> None:
    for loads in LOADS:
        result = decode(raw, loads, max_bytes)
        assert isinstance(result, dict | Rejection)
        if isinstance(result, Rejection):
            assert_a_clear_verdict(result)


@FAST
@given(obj=JSONISH, cut=st.integers(0, 200), junk=st.binary(max_size=8))
def test_decode_never_raises_on_damaged_json(obj: Any, cut: int, junk: bytes) -> None:
    try:
        text = json.dumps(obj, allow_nan=True).encode("utf-8", "surrogatepass")
    except ValueError:  # an integer too long for text: no JSON holds it
        return
    for damaged in (text, text[:cut], junk + text, text[:cut] + junk + text[cut:]):
        for loads in LOADS:
            assert isinstance(decode(damaged, loads), dict | Rejection)


@FAST
@given(depth=st.integers(0, 5000), as_object=st.booleans())
def test_decode_never_raises_on_nesting_of_any_depth(depth: int, as_object: bool) -> None:
    opening, closing = (b'{"a":', b"}") if as_object else (b"[", b"]")
    inner = b"{}" if as_object else b"[]"
    raw = b'{"event_type":' + opening * depth + inner + closing * depth + b"}"
    for loads in LOADS:
        assert isinstance(decode(raw, loads), dict | Rejection)


@FAST
@given(obj=VALUES, headers=HEADERS)
def test_check_and_map_never_raise_on_any_structure(obj: Any, headers: dict[str, str]) -> None:
    run_all(obj, headers)


@FAST
@given(
    make=st.sampled_from([flat_command, flat_proposed, nested_started]),
    replaced=st.dictionaries(st.sampled_from(FIELDS), VALUES, min_size=1, max_size=3),
    inner=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2),
    headers=HEADERS,
)
def test_check_and_map_never_raise_when_any_field_is_hostile(
    make: Any, replaced: dict[str, Any], inner: dict[str, Any], headers: dict[str, str]
) -> None:
    event = make() | replaced
    for name in ("payload", "metadata"):
        if isinstance(event.get(name), dict):
            event[name] = event[name] | inner
    run_all(event, headers)


@FAST
@given(value=VALUES | st.binary(max_size=100) | st.sets(st.integers(), max_size=5))
def test_shown_renders_anything_short(value: Any) -> None:
    text = shown(value)
    assert len(text) <= 64
    text.encode("utf-8")
