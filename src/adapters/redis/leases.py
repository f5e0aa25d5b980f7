"""RedisLeases: per-user connection leases in a sorted set that heals when a gateway dies."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from adapters.redis.client import store_errors
from adapters.redis.keys import RedisKeys
from application.gateway.ports import LeaseRefused
from domain.gateway.leases import LeasePolicy

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


class RedisLeases:
    """The Leases port on `sse:user:{u}:conns`: member = connection id, score = lease expiry
    (unix ms, LeasePolicy)."""

    def __init__(self, *, client: Any, keys: RedisKeys, policy: LeasePolicy) -> None:
        self._client = client
        self._keys = keys
        self._policy = policy
        self._acquire = client.register_script(ACQUIRE)
        self._peek = client.register_script(PEEK)

    async def acquire(self, user: str, conn_id: str, *, now: float) -> None:
        p = self._policy
        with store_errors():
            ok, wait_ms = await self._acquire(
                keys=[self._keys.conns(user)],
                args=[p.now_ms(now), p.lease_ms, p.limit, conn_id],
            )
        if not ok:
            raise LeaseRefused(p.retry_after_s(wait_ms))

    async def check(self, user: str, *, now: float) -> None:
        p = self._policy
        with store_errors():
            ok, wait_ms = await self._peek(
                keys=[self._keys.conns(user)], args=[p.now_ms(now), p.limit]
            )
        if not ok:
            raise LeaseRefused(p.retry_after_s(wait_ms))

    async def renew(
        self, leases: Sequence[tuple[str, str]], *, now: float, chunk: int = 100
    ) -> None:
        """`ZADD XX` only updates: the list is a snapshot, and a connection that closed (ZREM)
        since must not get its lease back, or its user is refused for up to `lease_s`."""
        expiry, lease_ms = self._policy.expiry_ms(now), self._policy.lease_ms
        for start in range(0, len(leases), chunk):
            with store_errors():
                pipe = self._client.pipeline(transaction=False)
                for user, conn_id in leases[start : start + chunk]:
                    key = self._keys.conns(user)
                    pipe.execute_command("ZADD", key, "XX", expiry, conn_id)
                    pipe.execute_command("PEXPIRE", key, lease_ms)
                await pipe.execute()
            await asyncio.sleep(0)  # let live deliveries run between chunks

    async def release(self, user: str, conn_id: str) -> None:
        with store_errors():
            await self._client.zrem(self._keys.conns(user), conn_id)

    async def release_all(self, leases: Sequence[tuple[str, str]]) -> None:
        with store_errors():
            pipe = self._client.pipeline(transaction=False)
            for user, conn_id in leases:
                pipe.zrem(self._keys.conns(user), conn_id)
            if len(pipe):
                await pipe.execute()
