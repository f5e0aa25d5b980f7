"""FakeStreamReader: users' streams in memory, held to RedisStreamReader by tests/contracts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from application.ports import StoreUnavailable
from domain.gateway.entries import Entry
from domain.gateway.notices import NOTHING_BEFORE, NOTICE_MAX_BYTES, NOTICE_MAX_ENTRIES, Notice
from domain.gateway.resume import StreamFacts, WindowFacts
from domain.gateway.stream_ids import LAST, StreamId, format_id, parse_id, window_score


@dataclass
class _Stream:
    entries: list[tuple[StreamId, Entry]] = field(default_factory=list)  # held, oldest first
    last_generated: StreamId = (0, 0)
    window: dict[str, int] = field(default_factory=dict)  # event id -> score, oldest first


class FakeStreamReader:
    """Users' streams in memory, written with `append` as the publish script writes them: ids
    only grow, `maxlen` keeps the newest entries (Redis keeps about that many), the dedup window
    keeps the newest `dedup_window` ids, and `expire` drops a user's keys as their TTL would.
    Like Redis 7.0, trimming never moves `max-deleted-entry-id`."""

    def __init__(self, *, maxlen: int = 1000, dedup_window: int = 10_000) -> None:
        self._maxlen = maxlen
        self._window = dedup_window
        self._streams: dict[str, _Stream] = {}
        self._ms = 1_700_000_000_000
        self.available = True

    def append(
        self,
        user: str,
        event_id: str,
        *,
        event: bytes = b"message",
        session: bytes = b"",
        data: bytes = b"{}",
    ) -> str:
        """Write one entry for `user`; returns its id."""
        stream = self._streams.setdefault(user, _Stream())
        self._ms += 1
        sid = (self._ms, 0)
        stream.entries.append((sid, Entry(format_id(sid).encode(), event, session, data)))
        stream.last_generated = sid
        del stream.entries[: max(0, len(stream.entries) - self._maxlen)]
        stream.window[event_id] = window_score(sid)
        while len(stream.window) > self._window:
            del stream.window[next(iter(stream.window))]
        return format_id(sid)

    def notice(self, user: str, count: int) -> Notice:
        """The notification the publish script sends after appending `user`'s newest `count`
        entries in one call: the entry held before them (NOTHING_BEFORE when none is) and the
        entries, or their ids alone past the script's bounds."""
        held = self._held(user)
        new, before = held[len(held) - count :], held[: len(held) - count]
        previous = format_id(before[-1][0]) if before else NOTHING_BEFORE
        entries = tuple(e for _, e in new)
        size = sum(len(e.id) + len(e.event) + len(e.session) + len(e.data) + 16 for e in entries)
        if count > min(NOTICE_MAX_ENTRIES, self._maxlen) or size > NOTICE_MAX_BYTES:
            return Notice(previous, format_id(new[-1][0]), None)
        return Notice(previous, format_id(new[-1][0]), entries)

    def expire(self, user: str) -> None:
        """The user's keys reached their TTL."""
        self._streams.pop(user, None)

    def _check(self) -> None:
        if not self.available:
            raise StoreUnavailable("fake Redis is down")

    def _held(self, user: str) -> list[tuple[StreamId, Entry]]:
        stream = self._streams.get(user)
        return stream.entries if stream is not None else []

    async def read_after(self, user: str, cursor: str, count: int) -> list[Entry]:
        self._check()
        after = parse_id(cursor) or (0, 0)
        return [e for sid, e in self._held(user) if sid > after][:count]

    async def newest(self, user: str, count: int, *, before: str | None = None) -> list[Entry]:
        self._check()
        upper = parse_id(before) if before is not None else None
        held = [e for sid, e in reversed(self._held(user)) if upper is None or sid < upper]
        return held[:count]

    async def resume_facts(
        self, user: str, last: StreamId, count: int
    ) -> tuple[list[Entry], StreamFacts]:
        self._check()
        stream = self._streams.get(user)
        if stream is None:
            return [], StreamFacts(exists=False)
        page = [] if last == LAST else [e for sid, e in stream.entries if sid > last][:count]
        first = stream.entries[0][0] if stream.entries else None
        return page, StreamFacts(True, stream.last_generated, (0, 0), first)

    async def window_facts(self, user: str, last: StreamId, first: StreamId) -> WindowFacts:
        self._check()
        stream = self._streams.get(user)
        scores = list(stream.window.values()) if stream is not None else []
        low, high = window_score(last), window_score(first)
        between = sum(1 for s in scores if low < s < high)
        return WindowFacts(min(scores) if scores else None, between)

    async def last_ids(self, users: Collection[str]) -> dict[str, StreamId | None]:
        self._check()
        return {u: (held[-1][0] if (held := self._held(u)) else None) for u in users}

    async def ping(self) -> None:
        self._check()
