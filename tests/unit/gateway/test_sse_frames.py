"""The SSE wire form of each frame a connection hands its writer (SPEC §6)."""

from __future__ import annotations

import orjson
import pytest

from adapters.gateway.sse import render
from application.gateway.outbox import HEARTBEAT, Closing, Reset, Retry
from domain.gateway.entries import Entry

pytestmark = pytest.mark.unit


def test_a_batch_renders_each_frame_in_order() -> None:
    entry = Entry(b"5-0", b"Genesis.Session.Theme.Proposed", b"s", b'{"event_id":"e"}')
    body = render([Retry(3000), entry, HEARTBEAT])
    assert body == (
        b"retry: 3000\n\n"
        b'id: 5-0\nevent: Genesis.Session.Theme.Proposed\ndata: {"event_id":"e"}\n\n'
        b": hb\n\n"
    )


def test_a_reset_carries_no_id_so_the_browser_keeps_its_position() -> None:
    body = render([Reset("trimmed", "0-0", "7-0")])
    head, data = body.split(b"\ndata: ")
    assert head == b"event: reset"
    assert orjson.loads(data) == {"reason": "trimmed", "last_event_id": "0-0", "oldest": "7-0"}


def test_the_closing_frame_carries_the_position_only_when_there_is_one() -> None:
    assert render([Closing("token_expired", "9-1")]) == (
        b'id: 9-1\nevent: closing\ndata: {"reason":"token_expired"}\n\n'
    )
    assert render([Closing("shutdown", None)]) == (
        b'event: closing\ndata: {"reason":"shutdown"}\n\n'
    )


def test_a_newline_in_data_or_type_cannot_forge_another_frame() -> None:
    body = render([Entry(b"1-0", b"T\nid: 99-0", b"", b"a\nb")])
    assert body == b"id: 1-0\nevent: T id: 99-0\ndata: a\ndata: b\n\n"
