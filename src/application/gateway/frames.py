"""What a connection's writer renders: a stream entry, or one of the frames around the events."""

from __future__ import annotations

from dataclasses import dataclass

from domain.gateway.entries import Entry


@dataclass(frozen=True, slots=True)
class Retry:
    """`retry:`, first on every connection: how long EventSource waits before reconnecting."""

    ms: int


@dataclass(frozen=True, slots=True)
class Reset:
    """`event: reset` before anything else: entries after the client's position may be gone."""

    reason: str
    last_event_id: str
    oldest: str | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A comment that keeps an idle connection (and every proxy on its way) open."""


@dataclass(frozen=True, slots=True)
class Closing:
    """The last frame of a stream the gateway ends on purpose; `position` is the id of the last
    event really handed to the writer (or the start), None when there is none."""

    reason: str
    position: str | None


HEARTBEAT = Heartbeat()
# What a writer renders: an event (the stream entry itself) or one of the frames above.
Frame = Entry | Retry | Reset | Heartbeat | Closing
# What a frame other than an event counts for in a connection's bytes (its rendered size and
# more: a reset or closing frame is under 200 bytes).
FRAME_BYTES = 256
# What an event adds to its fields once rendered (`id: `, `event: `, `data: `, newlines) and
# then some: the count is of what the connection holds, not an exact wire size.
ENTRY_OVERHEAD = 32


def entry_bytes(entry: Entry) -> int:
    """What an event counts for in its connection's bytes."""
    return len(entry.data) + len(entry.event) + len(entry.id) + ENTRY_OVERHEAD
