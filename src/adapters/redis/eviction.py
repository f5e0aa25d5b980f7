"""What Redis does at its memory limit: its `maxmemory-policy`, read with CONFIG GET where allowed.

Every key EventBridge writes carries a TTL (streams, dedup sets, owner index, leases, tickets),
so `volatile-*` policies evict them as surely as `allkeys-*`: only `noeviction` keeps them.
Under memory pressure an evicting Redis drops a user's dedup set (a redelivery is appended
twice), a stream (a resuming browser gets `reset`), a session's owner (the next claim may give
the session to someone else), and no error tells anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import exceptions as rx
from redis.asyncio.cluster import RedisCluster

from adapters.redis.client import LIBRARY_ERRORS, is_retriable, translate

SAFE_POLICY = "noeviction"
POLICY = "maxmemory-policy"


@dataclass(frozen=True, slots=True)
class EvictionPolicy:
    """What a Redis (every primary of a Cluster) answered. `policy` is None when it could not
    be read: CONFIG renamed or disabled (managed Redis), or not allowed to this user (ACL);
    `unreadable` then says why. On a Cluster, the first primary that evicts is the one named."""

    policy: str | None
    node: str = ""
    unreadable: str | None = None

    @property
    def evicts(self) -> bool:
        return self.policy is not None and self.policy != SAFE_POLICY


async def read_eviction_policy(client: Any) -> EvictionPolicy:
    """The server's maxmemory-policy. Raises StoreUnavailable when Redis cannot be asked at
    all (unreachable, loading); a refused CONFIG GET is an answer (`unreadable`), not an error."""
    try:
        if isinstance(client, RedisCluster):
            await client.initialize()  # the primaries are known only once it is (idempotent)
            answers = [
                (node.name, await client.config_get(POLICY, target_nodes=node))
                for node in client.get_primaries()
            ]
        else:
            answers = [("", await client.config_get(POLICY))]
    except rx.ResponseError as exc:
        if is_retriable(exc):  # BUSY, a failover's READONLY...: Redis cannot answer now
            raise translate(exc) from exc
        # Unknown command (CONFIG renamed away), NOPERM (ACL): the answer is "not telling".
        return EvictionPolicy(None, unreadable=f"{type(exc).__name__}: {str(exc)[:200]}")
    except LIBRARY_ERRORS as exc:
        raise translate(exc) from exc
    policies = [(node, _policy_of(answer)) for node, answer in answers]
    evicting = [(node, p) for node, p in policies if p is not None and p != SAFE_POLICY]
    if evicting:
        return EvictionPolicy(evicting[0][1], node=evicting[0][0])
    if not policies or any(p is None for _, p in policies):
        return EvictionPolicy(None, unreadable=f"CONFIG GET {POLICY} answered nothing")
    return EvictionPolicy(SAFE_POLICY)


def _policy_of(answer: object) -> str | None:
    """The policy in a CONFIG GET reply (a dict; bytes or str, by the client's decoding)."""
    if not isinstance(answer, dict):
        return None
    for key, value in answer.items():
        if _text(key) == POLICY:
            return _text(value)
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None
