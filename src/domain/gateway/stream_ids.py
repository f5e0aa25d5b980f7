"""Stream entry ids (`<ms>-<seq>`) exactly as Redis accepts them, and their order."""

from __future__ import annotations

import re

StreamId = tuple[int, int]

# ASCII digits only (`\d` also matches other scripts' digits, which Redis rejects), matched
# with fullmatch (`$` would accept a trailing newline); each part must fit Redis's 64 bits.
_STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})", re.ASCII)
U64_MAX = 2**64 - 1
ZERO = "0-0"
LAST: StreamId = (U64_MAX, U64_MAX)


def parse_id(value: str | bytes) -> StreamId | None:
    """A stream entry id `<ms>-<seq>` as Redis accepts it, or None for anything else."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    match = _STREAM_ID.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1]), int(match[2])
    return (ms, seq) if ms <= U64_MAX and seq <= U64_MAX else None


def format_id(sid: StreamId) -> str:
    """The canonical text of an id (no leading zeros), as Redis writes it."""
    return f"{sid[0]}-{sid[1]}"


def window_score(sid: StreamId) -> int:
    """An entry's score in the user's `ids` sorted set (the dedup window): ms * 1000 plus the
    sequence capped at 999. It must stay the publish script's formula (docs/redis-contract.md)."""
    return sid[0] * 1000 + min(sid[1], 999)


def behind(newest: StreamId | None, cursor: str) -> bool:
    """Whether a stream whose newest entry is `newest` holds an entry past `cursor` (a
    connection's position; an unreadable one counts as the start)."""
    return newest is not None and newest > (parse_id(cursor) or (0, 0))
