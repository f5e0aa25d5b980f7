"""Per-user connection limits across gateways: leases in a sorted set that heal when one dies."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys

# KEYS: conns. ARGV: now_ms, lease_ms, max, conn_id.
# Returns {1, 0} when leased, else {0, ms until the earliest lease expires}.
ACQUIRE = """
local now, lease, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= max then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[1], lease)
return {1, 0}
"""
# KEYS: conns. ARGV: now_ms, max. Read-only: {1, 0} when a lease could be had now, else
# {0, ms until the earliest live lease expires}. Advisory (the ticket pre-check): ACQUIRE decides.
PEEK = """
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') < max then return {1, 0} end
local first = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {0, tonumber(first[2]) - now}
"""


class LeaseRefused(Exception):
    """The user holds `max_connections_per_user` live leases; `retry_after_s` is a hint."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"connection limit reached; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class ConnectionLeases:
    """`sse:user:{u}:conns`: member = connection id, score = lease expiry (unix ms)."""

    def __init__(
        self,
        *,
        client: Any,
        keys: RedisKeys,
        limit: int,
        lease_s: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._limit = limit
        self._lease_ms = int(lease_s * 1000)
        self._wall = wall  # unix seconds: lease expiries are shared by every gateway
        self._acquire = client.register_script(ACQUIRE)
        self._peek = client.register_script(PEEK)

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    async def acquire(self, user: str, conn_id: str) -> None:
        """Take a lease for `conn_id` or raise LeaseRefused; expired leases do not count."""
        with store_errors():
            ok, wait_ms = await self._acquire(
                keys=[self._keys.conns(user)],
                args=[self._now_ms(), self._lease_ms, self._limit, conn_id],
            )
        if not ok:
            raise LeaseRefused(_retry_after_s(wait_ms))

    async def check(self, user: str) -> None:
        """Raise LeaseRefused if `user` holds the limit of live leases now (takes nothing)."""
        with store_errors():
            ok, wait_ms = await self._peek(
                keys=[self._keys.conns(user)], args=[self._now_ms(), self._limit]
            )
        if not ok:
            raise LeaseRefused(_retry_after_s(wait_ms))

    async def renew(self, leases: Sequence[tuple[str, str]], chunk: int = 100) -> None:
        """Extend the (user, conn_id) leases of this process that still exist, in chunks.

        `ZADD XX` only updates: the list is a snapshot, and a connection that closed (ZREM) since
        must not get its lease back, or its user is refused for up to `lease_s` for nothing.
        """
        for start in range(0, len(leases), chunk):
            expiry = self._now_ms() + self._lease_ms
            with store_errors():
                pipe = self._client.pipeline(transaction=False)
                for user, conn_id in leases[start : start + chunk]:
                    key = self._keys.conns(user)
                    pipe.execute_command("ZADD", key, "XX", expiry, conn_id)
                    pipe.execute_command("PEXPIRE", key, self._lease_ms)
                await pipe.execute()
            await asyncio.sleep(0)  # let live deliveries run between chunks

    async def release(self, user: str, conn_id: str) -> None:
        with store_errors():
            await self._client.zrem(self._keys.conns(user), conn_id)

    async def release_all(self, leases: Iterable[tuple[str, str]]) -> None:
        """Give back every (user, conn_id) lease in one pipelined round trip (drain)."""
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for user, conn_id in leases:
                pipe.zrem(self._keys.conns(user), conn_id)
            if len(pipe):
                await pipe.execute()


def _retry_after_s(wait_ms: Any) -> int:
    """`Retry-After` in whole seconds: at least 1, at most an hour."""
    return max(1, min(math.ceil(int(wait_ms) / 1000), 3600))
