"""A Redis that evicts keys is refused at start unless `redis.allow_eviction`, and watched after.

Exactly-once into Redis rests on each user's dedup set, routing of agent events on the session
owner index, resume on the streams: keys an evicting Redis drops without a word under memory
pressure (see adapters/redis/eviction.py). BullMQ and Sidekiq warn about it; EventBridge
refuses, because what it loses is its guarantee, and lets an operator who knows better say so.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from adapters.redis.client import ClientRole, open_client
from adapters.redis.eviction import EvictionPolicy, read_eviction_policy
from adapters.redis.settings import RedisSettings
from application.ports import StoreUnavailable
from eventbridge.settings import SettingsError

log = logging.getLogger("eventbridge")

KEY = "eventbridge.redis.allow_eviction (EVENTBRIDGE__REDIS__ALLOW_EVICTION)"
RECHECK_S = 10.0
_warned: set[tuple[str, str]] = set()  # (what, url): `run` opens two clients, warns once


def _where(found: EvictionPolicy) -> str:
    return f" on {found.node}" if found.node else ""


def refusal(found: EvictionPolicy) -> SettingsError:
    return SettingsError(
        "Redis would evict EventBridge's keys:\n"
        f"  {KEY}: is false, and Redis has maxmemory-policy {found.policy}{_where(found)}. "
        "Under memory pressure it would drop dedup sets (redeliveries shown twice), streams "
        "and session owners without an error. Set maxmemory-policy to noeviction (Redis then "
        "refuses writes when full, which the bridge's breaker handles), or set "
        "redis.allow_eviction to true to run anyway."
    )


def _warn_once(what: str, url: str, **fields: Any) -> None:
    if (what, url) not in _warned:
        _warned.add((what, url))
        log.warning(what, extra=fields)


async def require_no_eviction(client: Any, settings: RedisSettings) -> None:
    """Raise SettingsError when Redis evicts and `redis.allow_eviction` is off. A Redis that
    does not say (CONFIG disabled, as on many managed services) is warned about once; one that
    does not answer now is left to the breaker, and to readiness, which looks again."""
    try:
        found = await read_eviction_policy(client)
    except StoreUnavailable as exc:
        log.warning(
            "cannot read Redis maxmemory-policy now; readiness checks it again",
            extra={"error": str(exc)},
        )
        return
    if found.policy is None:
        _warn_once(
            "Redis maxmemory-policy unknown: make sure it is noeviction",
            settings.url,
            error=found.unreadable,
        )
    elif found.evicts and settings.allow_eviction:
        _warn_once(
            "Redis evicts keys (redis.allow_eviction): exactly-once, resume and session "
            "routing may break under memory pressure",
            settings.url,
            maxmemory_policy=found.policy,
        )
    elif found.evicts:
        raise refusal(found)


@asynccontextmanager
async def checked_client(settings: RedisSettings, role: ClientRole = "store") -> AsyncIterator[Any]:
    """open_client, refused when Redis evicts (the container's Redis resource)."""
    async with open_client(settings, role) as client:
        await require_no_eviction(client, settings)
        yield client


class EvictionWatch:
    """For readiness: the policy read again at most every `every_s`; what it last said stays
    when Redis does not answer (readiness says `redis_unreachable` then anyway)."""

    def __init__(
        self,
        client: Any,
        settings: RedisSettings,
        *,
        every_s: float = RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._allowed = settings.allow_eviction
        self._every_s = every_s
        self._clock = clock
        self._read_at: float | None = None
        self._policy: str | None = None

    async def evicting(self) -> str | None:
        """The evicting policy Redis has now (None when it does not evict, does not say, or
        eviction is allowed)."""
        if self._allowed:
            return None
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._every_s:
            self._read_at = now
            with contextlib.suppress(StoreUnavailable):
                found = await read_eviction_policy(self._client)
                self._policy = found.policy if found.evicts else None
        return self._policy
