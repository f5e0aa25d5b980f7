"""Reading a user's stream per docs/redis-contract.md: live pages, history, resume and reset."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as rx

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from domain.gateway.stream_ids import U64_MAX, ZERO, parse_id
from domain.gateway.stream_ids import window_score as _score

# KEYS: stream. Returns the id of its newest entry (not the entry), or nil.
LAST_ID = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if newest[1] then return newest[1][1] end
return false
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry, as the gateway needs it (bytes, never decoded)."""

    id: bytes
    event: bytes
    session: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class Start:
    """Where a new connection starts: read after `cursor`; `entries` are already read for it."""

    cursor: str
    entries: list[Entry] = field(default_factory=list)
    reset: str | None = None  # why a reset is due: malformed | expired | trimmed | unknown_id
    oldest: str | None = None


def _after(sid: tuple[int, int]) -> str | None:
    """XRANGE's exclusive start after `sid`; None after the largest id (nothing can follow)."""
    return None if sid == (U64_MAX, U64_MAX) else f"({sid[0]}-{sid[1]}"


def _entries(raw: list[Any]) -> list[Entry]:
    return [
        Entry(eid, f.get(b"e", b"message"), f.get(b"s", b""), f.get(b"d", b"")) for eid, f in raw
    ]


class UserStreams:
    """Reads `sse:user:{u}:stream` (and its `ids` set for gap checks); redis errors translated."""

    def __init__(self, *, client: Any, keys: RedisKeys, page: int) -> None:
        self._client = client
        self._keys = keys
        self._page = page
        self._last_id = client.register_script(LAST_ID)

    async def last_ids(self, users: Collection[str]) -> dict[str, tuple[int, int] | None]:
        """The newest entry id of each user's stream, in one pipelined round trip."""
        wanted = list(users)
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for user in wanted:
                await self._last_id(keys=[self._keys.stream(user)], client=pipe)
            replies = await pipe.execute()
        return {u: parse_id(r) if r else None for u, r in zip(wanted, replies, strict=True)}

    async def read_after(self, user: str, cursor: str, count: int) -> list[Entry]:
        """Up to `count` entries strictly after `cursor`, oldest first."""
        start = _after(parse_id(cursor) or (0, 0))
        if start is None:
            return []
        with store_errors():
            raw = await self._client.xrange(self._keys.stream(user), start, "+", count=count)
        return _entries(raw)

    async def fresh(self, user: str, history: int, session: bytes | None) -> Start:
        """A new connection: the last `history` events (of `session`, if given), then live."""
        key = self._keys.stream(user)
        want = max(history, 1)
        found: list[Entry] = []
        cursor: str | None = None
        upper = "+"
        with store_errors():
            while True:
                count = want if session is None else self._page
                page = _entries(await self._client.xrevrange(key, upper, "-", count=count))
                if cursor is None:
                    cursor = page[0].id.decode() if page else ZERO
                found += [e for e in page if session is None or e.session == session]
                if history == 0 or len(found) >= history or len(page) < count:
                    break
                upper = f"({page[-1].id.decode()}"
        if history == 0:
            return Start(cursor)
        return Start(cursor, list(reversed(found[:history])))

    async def resume(self, user: str, last_event_id: str, count: int) -> Start:
        """Replay after `last_event_id`, or a reset and everything still held if a gap may exist."""
        last = parse_id(last_event_id)
        if last is None:
            return Start(ZERO, reset="malformed")
        cursor, start = f"{last[0]}-{last[1]}", _after(last)
        key = self._keys.stream(user)
        with store_errors():
            # XRANGE runs before XINFO: if XINFO then finds nothing after `last` was trimmed,
            # the page read before it is a complete continuation.
            pipe = self._client.pipeline(transaction=False)
            if start is not None:
                pipe.xrange(key, start, "+", count=count)
            pipe.xinfo_stream(key)
            replies = await pipe.execute(raise_on_error=False)
        page, info = replies if start is not None else ([], replies[0])
        if isinstance(info, rx.ResponseError) and "no such key" in str(info):
            return Start(ZERO, reset="expired")
        for reply in (page, info):
            if isinstance(reply, Exception):
                with store_errors():
                    raise reply
        first = info.get("first-entry")
        oldest = first[0].decode() if first else None
        reason = await self._gap(user, last, info)
        if reason is not None:
            return Start(ZERO, reset=reason, oldest=oldest)
        return Start(cursor, _entries(page))

    async def _gap(self, user: str, last: tuple[int, int], info: dict[str, Any]) -> str | None:
        """Why entries after `last` may be missing, or None when the continuation is whole."""
        last_generated = parse_id(info.get("last-generated-id") or ZERO) or (0, 0)
        if last > last_generated:
            return "unknown_id"  # an id this stream never issued (another incarnation of it)
        max_deleted = parse_id(info.get("max-deleted-entry-id") or ZERO) or (0, 0)
        if last < max_deleted:
            return "trimmed"
        first = info.get("first-entry")
        first_id = parse_id(first[0]) if first else None
        if first_id is None or last >= first_id:
            return None
        # `last` is older than the oldest entry held. Redis 7.0 does not move
        # max-deleted-entry-id when XADD MAXLEN trims, so ask the (longer) dedup window whether
        # any entry between the two ever existed.
        ids = self._keys.ids(user)
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.zrange(ids, 0, 0, withscores=True)
            pipe.zcount(ids, f"({_score(last)}", f"({_score(first_id)}")
            lowest, between = await pipe.execute()
        if not lowest or lowest[0][1] > _score(last):
            return "trimmed"  # the dedup window no longer reaches back to `last`: assume a gap
        return "trimmed" if between > 0 else None
