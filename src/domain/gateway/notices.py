"""A user's notification: what one write appended, and what a connection does with it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.gateway.entries import Entry
from domain.gateway.stream_ids import ZERO, parse_id

# The publish script carries the new entries only up to these bounds (its Lua constants are
# held to them by a test); past them a notification carries the ids alone.
NOTICE_MAX_ENTRIES = 100
NOTICE_MAX_BYTES = 65536
NOTHING_BEFORE = ZERO  # `previous` of a write to a stream that held no entry before it


@dataclass(frozen=True, slots=True)
class Notice:
    """One write's notification for one user: the entries appended after `previous` (the id of
    the entry just before the first of them, NOTHING_BEFORE when the stream held none), up to
    `last`. `entries` is None when they were too many or too large to carry: then only a read
    of the stream gets them."""

    previous: str
    last: str
    entries: tuple[Entry, ...] | None


class NoticeKind(StrEnum):
    """What a connection did with a notification (a bounded metric label)."""

    DIRECT = "direct"  # written from the notification itself, no stream read
    READ = "read"  # the connection reads the stream after its own cursor
    IGNORED = "ignored"  # nothing for it: it already has the entries, or no connection wants them


def decide(cursor: str, notice: Notice) -> NoticeKind:
    """A connection exactly at `previous` gets the carried entries as they are: they are what a
    read after its cursor returns at that moment. Any other position (a gap: a notification was
    lost, or the connection is behind) reads the stream, the only source of truth; a connection
    already at or past `last` has them all."""
    if notice.entries is not None and cursor == notice.previous:
        return NoticeKind.DIRECT
    last = parse_id(notice.last)
    if last is not None and last > (parse_id(cursor) or (0, 0)):
        return NoticeKind.READ
    return NoticeKind.IGNORED if last is not None else NoticeKind.READ
