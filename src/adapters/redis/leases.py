"""RedisLeases: per-user connection leases in a sorted set that heals when a gateway dies."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from adapters.redis.client import store_errors
from adapters.redis.cluster_calls import per_key
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

# KEYS: conns, one per lease. ARGV: expiry_ms, lease_ms, then the lease's conn_id per key.
# A renewal of many leases in one call (single node): one reply instead of two per lease,
# which is what a gateway's renewal costs in Python. `XX`: see `renew`.
RENEW = """
local expiry, lease = ARGV[1], ARGV[2]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 2])
  redis.call('PEXPIRE', key, lease)
end
return #KEYS
"""


class RedisLeases:
    """The Leases port on `sse:user:{u}:conns`: member = connection id, score = lease expiry
    (unix ms, LeasePolicy)."""

    def __init__(
        self, *, client: Any, keys: RedisKeys, policy: LeasePolicy, cluster: bool = False
    ) -> None:
        self._client = client
        self._keys = keys
        self._policy = policy
        self._cluster = cluster
        self._acquire = client.register_script(ACQUIRE)
        self._peek = client.register_script(PEEK)
        self._renew = client.register_script(RENEW)

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
        since must not get its lease back, or its user is refused for up to `lease_s`.

        A chunk is one RENEW call on a single node; on a Cluster (a call's keys must share a
        slot, a chunk's users do not) a pipeline of one RENEW call per lease, each sent to its
        slot's node: one command per lease where `ZADD XX` + `PEXPIRE` were two, the Cluster
        pipeline's Python costing per command."""
        expiry, lease_ms = self._policy.expiry_ms(now), self._policy.lease_ms
        conns = self._keys.conns
        for start in range(0, len(leases), chunk):
            part = leases[start : start + chunk]
            with store_errors():
                if not self._cluster:
                    await self._renew(
                        keys=[conns(u) for u, _ in part],
                        args=[expiry, lease_ms, *(c for _, c in part)],
                    )
                else:
                    calls = [(conns(u), (expiry, lease_ms, c)) for u, c in part]
                    await per_key(self._client, self._renew, calls)
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
