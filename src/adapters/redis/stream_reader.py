"""RedisStreamReader: users' streams per docs/redis-contract.md, redis-py errors translated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from redis import exceptions as rx

from adapters.redis.client import store_errors
from adapters.redis.cluster_calls import per_key
from adapters.redis.keys import RedisKeys
from domain.gateway.entries import Entry
from domain.gateway.resume import StreamFacts, WindowFacts
from domain.gateway.stream_ids import LAST, ZERO, StreamId, parse_id, window_score

# KEYS: streams. Returns the id of each one's newest entry (not the entry), or false: one call
# for a whole tick chunk on a single node (a reply per user costs the gateway more than Redis).
LAST_IDS = """
local out = {}
for i, key in ipairs(KEYS) do
  local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  out[i] = newest[1] and newest[1][1] or false
end
return out
"""


def _after(sid: StreamId) -> str | None:
    """XRANGE's exclusive start after `sid`; None after the largest id (nothing can follow)."""
    return None if sid == LAST else f"({sid[0]}-{sid[1]}"


def _entries(raw: list[Any]) -> list[Entry]:
    return [
        Entry(eid, f.get(b"e", b"message"), f.get(b"s", b""), f.get(b"d", b"")) for eid, f in raw
    ]


def _id_or_zero(value: Any) -> StreamId:
    return parse_id(value or ZERO) or (0, 0)


class RedisStreamReader:
    """The StreamReader port on `sse:user:{u}:stream` and its `ids` window."""

    def __init__(
        self,
        *,
        client: Any,
        keys: RedisKeys,
        cluster: bool = False,
        health: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`health`: what `ping` asks instead of one node's PING (on a Cluster: ClusterPing,
        every slot's master)."""
        self._client = client
        self._keys = keys
        self._cluster = cluster
        self._health = health
        self._last_ids = client.register_script(LAST_IDS)

    async def read_after(self, user: str, cursor: str, count: int) -> list[Entry]:
        start = _after(parse_id(cursor) or (0, 0))
        if start is None:
            return []
        with store_errors():
            raw = await self._client.xrange(self._keys.stream(user), start, "+", count=count)
        return _entries(raw)

    async def newest(self, user: str, count: int, *, before: str | None = None) -> list[Entry]:
        upper = "+" if before is None else f"({before}"
        with store_errors():
            raw = await self._client.xrevrange(self._keys.stream(user), upper, "-", count=count)
        return _entries(raw)

    async def resume_facts(
        self, user: str, last: StreamId, count: int
    ) -> tuple[list[Entry], StreamFacts]:
        start, key = _after(last), self._keys.stream(user)
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
            return [], StreamFacts(exists=False)
        for reply in (page, info):
            if isinstance(reply, Exception):
                with store_errors():
                    raise reply
        first = info.get("first-entry")
        return _entries(page), StreamFacts(
            exists=True,
            last_generated=_id_or_zero(info.get("last-generated-id")),
            max_deleted=_id_or_zero(info.get("max-deleted-entry-id")),
            first=parse_id(first[0]) if first else None,
        )

    async def window_facts(self, user: str, last: StreamId, first: StreamId) -> WindowFacts:
        ids = self._keys.ids(user)
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.zrange(ids, 0, 0, withscores=True)
            pipe.zcount(ids, f"({window_score(last)}", f"({window_score(first)}")
            lowest, between = await pipe.execute()
        return WindowFacts(int(lowest[0][1]) if lowest else None, int(between))

    async def last_ids(self, users: Collection[str]) -> dict[str, StreamId | None]:
        """One LAST_IDS call on a single node. On a Cluster (one call's keys must share a slot)
        a pipeline of one LAST_IDS call per user, which the Cluster client sends to each slot's
        node: only the id comes back, never the newest entry's data."""
        wanted = list(users)
        if not wanted:
            return {}
        keys = [self._keys.stream(u) for u in wanted]
        with store_errors():
            if not self._cluster:
                ids = await self._last_ids(keys=keys)
            else:
                replies = await per_key(self._client, self._last_ids, [(k, ()) for k in keys])
                ids = [reply[0] for reply in replies]
        return {u: parse_id(i) if i else None for u, i in zip(wanted, ids, strict=True)}

    async def ping(self) -> None:
        if self._health is not None:
            await self._health()
            return
        with store_errors():
            await self._client.ping()
