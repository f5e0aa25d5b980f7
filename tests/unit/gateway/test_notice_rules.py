"""What a connection does with a notification, and the notification's wire format."""

from __future__ import annotations

import re

import pytest

from adapters.redis.notice_format import parse_notice
from adapters.redis.scripts import PUBLISH
from domain.gateway.entries import Entry, stored_age
from domain.gateway.notices import (
    NOTHING_BEFORE,
    NOTICE_MAX_BYTES,
    NOTICE_MAX_ENTRIES,
    Notice,
    NoticeKind,
    decide,
)

pytestmark = pytest.mark.unit

A = Entry(b"5-0", b"T", b"s", b'{"a":1}')
B = Entry(b"5-1", b"Type.Two", b"", b'{"b":"x y\\n"}')
CARRIED = Notice("4-0", "5-1", (A, B))


@pytest.mark.parametrize(
    ("cursor", "notice", "kind"),
    [
        ("4-0", CARRIED, NoticeKind.DIRECT),  # exactly at the previous id
        ("3-0", CARRIED, NoticeKind.READ),  # behind: a notification was lost
        ("4-5", CARRIED, NoticeKind.READ),  # between previous and last: never write twice
        ("5-1", CARRIED, NoticeKind.IGNORED),  # it has them all
        ("6-0", CARRIED, NoticeKind.IGNORED),
        ("4-0", Notice("4-0", "5-1", None), NoticeKind.READ),  # ids only: the stream has them
        (NOTHING_BEFORE, Notice(NOTHING_BEFORE, "5-1", (A, B)), NoticeKind.DIRECT),  # new stream
        ("not-an-id", CARRIED, NoticeKind.READ),  # an unreadable cursor counts as the start
        ("4-0", Notice("4-0", "garbage", (A,)), NoticeKind.DIRECT),
        ("3-0", Notice("4-0", "garbage", (A,)), NoticeKind.READ),  # unknown last: read
    ],
)
def test_a_connection_writes_a_notification_only_when_it_continues_from_its_cursor(
    cursor: str, notice: Notice, kind: NoticeKind
) -> None:
    assert decide(cursor, notice) is kind


def test_an_entrys_stored_age_comes_from_its_id_which_is_redis_clock_at_xadd() -> None:
    assert stored_age(b"1700000000250-3", 1700000001.0) == pytest.approx(0.75)
    assert stored_age(b"garbage", 1.0) is None
    assert stored_age(b"-1", 1.0) is None


def _wire(previous: bytes, entries: list[Entry]) -> bytes:
    """The notification as the publish script builds it (docs/redis-contract.md)."""
    head = [b"E", previous, entries[-1].id, b"%d" % len(entries)]
    head += [b"%s %d %d %d" % (e.id, len(e.event), len(e.session), len(e.data)) for e in entries]
    return b" ".join(head) + b"\n" + b"".join(e.event + e.session + e.data for e in entries)


def test_the_wire_format_parses_back_to_the_entries_byte_for_byte() -> None:
    assert parse_notice(_wire(b"4-0", [A, B])) == CARRIED
    assert parse_notice(b"I 0-0 9-3 250") == Notice(NOTHING_BEFORE, "9-3", None)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xff\xfe",
        b"X 0-0 5-0 1",  # another format
        b"E 0-0 5-0 1 5-0 1 1 7",  # no body
        b"E 0-0 5-0 1 5-0 1 1 7\nTs",  # cut short
        b"E 0-0 5-0 1 5-0 1 1 1\nTs{}xx",  # longer than its lengths
        b"E 0-0 5-0 1 5-0 -1 1 3\nTs{}",  # a negative length
        b"E 0-0 5-0 2 5-0 1 1 2\nTs{}",  # fewer entries than it says
        b"E 0-0 6-0 1 5-0 1 1 2\nTs{}",  # its last entry is not `last`
        b"E 0-0 5-0 x 5-0 1 1 2\nTs{}",
        b"E \xff 5-0 1 5-0 1 1 2\nTs{}",
        b"I 0-0 5-0",
    ],
)
def test_a_notification_that_does_not_parse_is_none_so_the_stream_is_read(garbage: bytes) -> None:
    assert parse_notice(garbage) is None


def test_the_publish_scripts_bounds_are_the_domains() -> None:
    found = re.search(r"NOTIFY_MAX_ENTRIES, NOTIFY_MAX_BYTES = (\d+), (\d+)", PUBLISH)
    assert found is not None
    assert (int(found[1]), int(found[2])) == (NOTICE_MAX_ENTRIES, NOTICE_MAX_BYTES)
