"""Decoding record bytes and normalising both wire formats (SPEC §3)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from domain_samples import (
    CORRELATION,
    CREATED_AT,
    EVENT,
    NOVEL,
    OTHER_SESSION,
    SESSION,
    flat_command,
    flat_proposed,
    nested_started,
    no_owner,
    owned_by,
)

from domain.envelope import MAX_LAYOUTS, decode, normalise
from domain.model import Envelope
from domain.reasons import Reason, Rejection

pytestmark = pytest.mark.unit

LOADERS = pytest.mark.parametrize("loads", [json.loads, orjson.loads], ids=["json", "orjson"])


def _envelope(obj: Any, headers: Any = None, owner: Any = no_owner) -> Envelope:
    result = normalise(obj, headers or {}, session_owner=owner)
    assert isinstance(result, Envelope), result
    return result


def _rejection(obj: Any, headers: Any = None, owner: Any = no_owner) -> Rejection:
    result = normalise(obj, headers or {}, session_owner=owner)
    assert isinstance(result, Rejection), result
    return result


@LOADERS
def test_decode_returns_the_object_of_valid_json(loads: Any) -> None:
    assert decode(b'{"a": 1}', loads) == {"a": 1}


@LOADERS
@pytest.mark.parametrize("value", [None, b""])
def test_decode_calls_an_empty_value_invalid_json(loads: Any, value: bytes | None) -> None:
    result = decode(value, loads)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_JSON


@LOADERS
def test_decode_tells_bad_utf8_from_bad_json(loads: Any) -> None:
    bad_utf8 = decode(b'{"a": "\xc3\x28"}', loads)
    bad_json = decode(b'{"a": ', loads)
    assert isinstance(bad_utf8, Rejection)
    assert isinstance(bad_json, Rejection)
    assert bad_utf8.reason is Reason.INVALID_UTF8
    assert bad_json.reason is Reason.INVALID_JSON


@LOADERS
@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_decode_requires_an_object(loads: Any, value: bytes) -> None:
    result = decode(value, loads)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NOT_AN_OBJECT
    assert "not an object" in result.message


def test_decode_refuses_a_value_over_the_cap_before_parsing() -> None:
    def never(_: bytes) -> Any:
        raise AssertionError("parsed an oversized record")

    result = decode(b"{" + b" " * 100 + b"}", never, 64)
    assert result == Rejection(Reason.OVERSIZED, "record value is 102 bytes, over the 64-byte cap")


def test_flat_command_routes_by_metadata_user_never_the_client_payload() -> None:
    env = _envelope(flat_command())
    assert env.user_id == "42"
    assert not env.user_id_from_owner
    assert env.wire_format == "flat"


def test_flat_command_takes_the_top_level_user_id_first() -> None:
    assert _envelope(flat_command(user_id="7")).user_id == "7"


def test_flat_event_with_only_a_client_payload_user_has_no_user() -> None:
    event = flat_command(metadata={"source": "api-gateway"})
    assert _rejection(event).reason is Reason.NO_USER


def test_flat_session_id_never_comes_from_the_client_payload() -> None:
    assert _envelope(flat_command()).session_id == SESSION
    without_top_level = flat_command(aggregate_id=SESSION)
    del without_top_level["session_id"]
    assert _envelope(without_top_level).session_id == SESSION  # aggregate_id, not OTHER_SESSION
    assert _envelope(without_top_level).session_id != OTHER_SESSION


def test_flat_timestamp_falls_back_to_created_at() -> None:
    assert _envelope(flat_command()).timestamp == CREATED_AT
    assert _envelope(flat_command(timestamp="2025-03-01T11:00:00Z")).timestamp.startswith("2025")


def test_flat_business_payload_is_every_non_envelope_field_minus_internal_ones() -> None:
    payload = _envelope(flat_command()).payload
    assert set(payload) == {"command_type", "payload"}
    assert payload["payload"]["user_input"].startswith("A lighthouse")


def test_the_business_payload_keeps_order_and_values_whatever_layouts_came_before() -> None:
    """Public keys are remembered per layout of an object (its keys in order), for a bounded
    number of layouts: an object of a layout seen before, one of a new layout past the bound,
    and keys in another order all get exactly their own public fields, in their order."""
    seen = _envelope(flat_command(extra=1, internal_x=2)).payload
    assert list(seen) == ["command_type", "payload", "extra"]
    for n in range(MAX_LAYOUTS + 10):  # invented layouts fill the memory, then go past it
        payload = _envelope(flat_command(**{f"k{n}": n, f"internal_{n}": 0})).payload
        assert list(payload) == ["command_type", "payload", f"k{n}"]
        assert payload[f"k{n}"] == n
    again = _envelope(flat_command(extra=3, internal_x=2)).payload
    assert again == {"command_type": seen["command_type"], "payload": seen["payload"], "extra": 3}
    reordered = dict(reversed(flat_command(extra=1).items()))
    assert list(_envelope(reordered).payload) == ["extra", "payload", "command_type"]


def test_ai_agent_event_without_user_is_routed_to_the_session_owner() -> None:
    env = _envelope(flat_proposed(), owner=owned_by("42"))
    assert env.user_id == "42"
    assert env.user_id_from_owner
    assert env.payload == {
        "content": {"theme": "Memory as a tide", "tone": "wistful"},
        "input": {"stage": "INITIAL_PROMPT"},
    }


def test_nested_started_is_normalised_from_its_payload() -> None:
    env = _envelope(nested_started())
    assert env == Envelope(
        event_id=EVENT,
        event_type="Genesis.Session.Started",
        aggregate_id=SESSION,
        session_id=SESSION,
        user_id="42",
        user_id_from_owner=False,
        correlation_id=CORRELATION,
        timestamp="2025-03-01T12:00:00Z",
        novel_id=NOVEL,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        payload={"initial_input": "A city that forgets", "preferences": {"pov": "first"}},
        wire_format="nested",
        timestamp_s=1740830400.0,
    )


def test_nested_payload_without_content_drops_routing_and_internal_keys() -> None:
    inner = dict(nested_started()["payload"], internal_retry=2, quality_score=0.9)
    del inner["content"]
    assert _envelope(nested_started(payload=inner)).payload == {
        "stage": "INITIAL_PROMPT",
        "quality_score": 0.9,
    }


def test_nested_format_requires_a_payload_object() -> None:
    event = nested_started()
    del event["payload"]
    assert _rejection(event).message == "missing field 'payload'"
    assert _rejection(nested_started(payload=[1])).reason is Reason.WRONG_TYPE


def test_server_set_user_id_wins_over_the_nested_payload() -> None:
    assert _envelope(nested_started(user_id=5)).user_id == "5"
    meta = {"user_id": "8"}
    assert _envelope(nested_started(metadata=meta)).user_id == "8"


def test_header_correlation_id_is_used_when_the_envelope_has_none() -> None:
    env = _envelope(flat_command(), headers={"correlation_id": CORRELATION})
    assert env.correlation_id == CORRELATION


@pytest.mark.parametrize("value", ["None", ""])
def test_header_correlation_id_none_means_absent(value: str) -> None:
    assert _envelope(flat_command(), headers={"correlation_id": value}).correlation_id is None
    assert _envelope(flat_command(correlation_id="None")).correlation_id is None


def test_headers_may_be_a_lookup_function() -> None:
    env = _envelope(flat_command(), headers={"correlation_id": CORRELATION}.get)
    assert env.correlation_id == CORRELATION


def test_normalise_names_the_missing_field() -> None:
    event = flat_command()
    del event["event_id"]
    assert _rejection(event) == Rejection(Reason.MISSING_FIELD, "missing field 'event_id'")


def test_normalise_requires_a_timestamp() -> None:
    event = nested_started()
    del event["payload"]["timestamp"]
    assert _rejection(event).message == "missing field 'timestamp'"


def test_normalise_names_a_field_of_the_wrong_type() -> None:
    rejection = _rejection(flat_command(aggregate_id=7))
    assert rejection == Rejection(Reason.WRONG_TYPE, "aggregate_id must be a string, got int")


def test_normalise_leaves_timestamp_seconds_zero_when_unparseable() -> None:
    assert _envelope(flat_command(created_at="yesterday")).timestamp_s == 0.0
