"""Envelope → SSE message: the data contract of SPEC §6 and its size cap."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
import pytest
from domain_samples import (
    CORRELATION,
    NOW,
    dumps,
    flat_command,
    flat_proposed,
    nested_started,
    owned_by,
)

from domain.filter import EventFilter
from domain.mapper import SseMapper
from domain.model import Envelope, SseMessage
from domain.reasons import Reason, Rejection

pytestmark = pytest.mark.unit

MAPPER = SseMapper(dumps=dumps)


def _envelope(obj: dict[str, Any], headers: Any = None, owner: Any = None) -> Envelope:
    env = EventFilter().check(obj, headers or {}, now=NOW, session_owner=owner or owned_by("42"))
    assert isinstance(env, Envelope), env
    return env


def _message(env: Envelope, mapper: SseMapper = MAPPER) -> SseMessage:
    message = mapper.to_message(env)
    assert isinstance(message, SseMessage), message
    return message


def test_message_data_always_carries_the_core_fields_in_order() -> None:
    message = _message(_envelope(flat_command()))
    data = json.loads(message.data)
    assert list(data) == [
        "event_id",
        "event_type",
        "session_id",
        "correlation_id",
        "timestamp",
        "payload",
    ]
    assert data["correlation_id"] is None
    assert data["payload"]["command_type"] == "RequestConceptGeneration"


def test_message_data_adds_novel_and_trace_ids_when_present() -> None:
    data = json.loads(_message(_envelope(nested_started())).data)
    assert data["novel_id"] == nested_started()["payload"]["novel_id"]
    assert data["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert data["correlation_id"] == CORRELATION


def test_message_is_routed_to_the_envelope_user_with_its_event_time() -> None:
    env = _envelope(flat_command())
    message = _message(env)
    assert (message.user_id, message.session_id, message.event_id) == (
        "42",
        env.session_id,
        env.event_id,
    )
    assert message.event_type == "Genesis.Session.Command.Received"
    assert message.timestamp_s == env.timestamp_s > 0


def test_an_event_naming_its_user_teaches_the_session_owner() -> None:
    assert _message(_envelope(flat_command())).teaches_owner


def test_an_event_routed_by_the_owner_index_does_not_teach_it() -> None:
    assert not _message(_envelope(flat_proposed())).teaches_owner


def test_data_is_serialised_once_with_the_injected_dumps() -> None:
    calls: list[Any] = []

    def counting(value: Any) -> bytes:
        calls.append(value)
        return orjson.dumps(value)

    message = _message(_envelope(flat_command()), SseMapper(dumps=counting))
    assert len(calls) == 1
    assert message.data == orjson.dumps(calls[0])


def test_data_over_the_cap_is_refused_never_cut() -> None:
    big = flat_command(content="x" * 70_000)
    result = MAPPER.to_message(_envelope(big))
    assert isinstance(result, Rejection)
    assert result.reason is Reason.OVERSIZED
    assert result.message.startswith("SSE data is ")
    assert result.message.endswith(" bytes, over the 65536-byte cap")


def test_the_cap_counts_the_whole_data_exactly() -> None:
    env = _envelope(flat_command())
    size = len(_message(env).data)
    assert isinstance(SseMapper(dumps=dumps, max_data_bytes=size).to_message(env), SseMessage)
    refused = SseMapper(dumps=dumps, max_data_bytes=size - 1).to_message(env)
    assert refused == Rejection(
        Reason.OVERSIZED, f"SSE data is {size} bytes, over the {size - 1}-byte cap"
    )


def test_a_payload_that_cannot_be_serialised_is_refused() -> None:
    env = _envelope(flat_command(score=2**70))
    result = SseMapper(dumps=orjson.dumps).to_message(env)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.WRONG_TYPE


def test_an_envelope_without_user_is_refused() -> None:
    env = _envelope(flat_command())
    result = MAPPER.to_message(dataclasses.replace(env, user_id=None))
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NO_USER


def test_the_mapper_refuses_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="max_data_bytes"):
        SseMapper(dumps=dumps, max_data_bytes=0)
