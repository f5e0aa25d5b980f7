"""Triage over any records (value, key and header bytes): every record gets a verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.triage import Triager
from domain.model import Partition, Record
from eventbridge.settings import FilterSettings
from eventbridge.triager import build_triager

pytestmark = pytest.mark.unit

P = Partition("genesis", 0)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SESSION = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
A_COMMAND = orjson.dumps(
    {
        "event_id": "c2a1e4f0-7b3d-4e8a-9f61-2d5c8b7a9e10",
        "event_type": "Genesis.Session.Command.Received",
        "aggregate_type": "GenesisFlow",
        "aggregate_id": SESSION,
        "session_id": SESSION,
        "metadata": {"user_id": "42"},
        "created_at": "2025-12-31T23:59:00+00:00",
    }
)
VALUES = (
    st.none()
    | st.binary(max_size=500)
    | st.just(A_COMMAND)
    | st.builds(
        lambda cut, junk: A_COMMAND[:cut] + junk, st.integers(0, 300), st.binary(max_size=5)
    )
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["correlation_id", "traceparent", "event_type", "", "x"]),
        st.binary(max_size=60) | st.none(),
    ),
    max_size=4,
)


def triager(loads: Any) -> Triager:
    return build_triager(FilterSettings(max_record_bytes=1024), loads=loads)


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(
        st.tuples(st.binary(max_size=40) | st.none(), VALUES, HEADERS, st.none() | st.text()),
        max_size=12,
    ),
    loads=st.sampled_from([orjson.loads, json.loads]),
)
def test_every_record_of_any_batch_gets_exactly_one_verdict(batch: list[Any], loads: Any) -> None:
    records = [
        Record(P, i, key, value, tuple(headers), unreadable=unreadable)  # type: ignore[arg-type]
        for i, (key, value, headers, unreadable) in enumerate(batch)
    ]
    t = triager(loads)
    out = t.triage(t.decode(records), now=NOW)
    finished = [r for r, _ in out.deliver] + [d.record for d in out.letters] + out.ignored
    assert sorted(r.offset for r in finished) == [r.offset for r in records]
    for letter in out.letters:
        assert letter.message
        letter.message.encode("utf-8")
