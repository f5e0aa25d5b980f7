"""The Server-Sent Events wire format (SPEC §6): each kind of frame, rendered to bytes."""

from __future__ import annotations

import orjson

from application.gateway.outbox import Closing, Frame, Heartbeat, Reset, Retry
from domain.gateway.entries import Entry

HEARTBEAT = b": hb\n\n"


def retry(ms: int) -> bytes:
    """`retry:` is sent once, first, so EventSource waits `ms` before reconnecting."""
    return b"retry: %d\n\n" % ms


def message(entry_id: bytes, event: bytes, data: bytes) -> bytes:
    """`id`/`event`/`data` of one stream entry; `data` is the bridge's JSON, verbatim."""
    if b"\n" in data or b"\r" in data:
        # Compact JSON never holds a raw newline; if one ever does, each line needs its prefix.
        data = b"\ndata: ".join(data.splitlines())
    if b"\n" in event or b"\r" in event:
        event = event.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"id: " + entry_id + b"\nevent: " + event + b"\ndata: " + data + b"\n\n"


def reset(reason: str, last_event_id: str, oldest: str | None) -> bytes:
    """`event: reset` (no id, so the browser keeps its position): refetch state, a gap exists."""
    data = orjson.dumps({"reason": reason, "last_event_id": last_event_id, "oldest": oldest})
    return b"event: reset\ndata: " + data + b"\n\n"


def closing(reason: str, cursor: str | None) -> bytes:
    """`event: closing`, the last frame of a stream the gateway ends on purpose (token expiry,
    drain): a client that cannot see comments or statuses (EventSource) learns why it ended.
    Its `id` is the connection's position, so even a client that has received no event yet
    resumes from there; a connection with no position sends no `id`."""
    head = b"id: " + cursor.encode() + b"\n" if cursor else b""
    return head + b"event: closing\ndata: " + orjson.dumps({"reason": reason}) + b"\n\n"


def render(frames: list[Frame]) -> bytes:
    """The bytes of a batch of frames, in order (an event, the common case, is tested first)."""
    out: list[bytes] = []
    for f in frames:
        if type(f) is Entry:
            out.append(message(f.id, f.event, f.data))
        elif isinstance(f, Heartbeat):
            out.append(HEARTBEAT)
        elif isinstance(f, Retry):
            out.append(retry(f.ms))
        elif isinstance(f, Reset):
            out.append(reset(f.reason, f.last_event_id, f.oldest))
        elif isinstance(f, Closing):
            out.append(closing(f.reason, f.position))
    return b"".join(out)
