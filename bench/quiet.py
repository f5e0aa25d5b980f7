"""Between two measurements: what one wrote is deleted, and Redis's own background work is done.

Redis rewrites its append-only file (a fork whose child writes the whole dataset) when the file
has doubled since the last rewrite and is past 64 MB: on a 2-core machine that child takes most
of a core for a while, from whichever measurement happens to be running. So for a Redis the
bench started itself, `quiet` moves the rewrite between measurements (BGREWRITEAOF after the
deletion, waited for, with the automatic one pushed out of the way) and waits for lazy frees;
every measurement then runs against the same small file, still appended and fsynced every
second as in production. A Redis given by `REDIS_URL` is only cleaned, never reconfigured.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from simulator.services import Services

POLL_S = 0.05
_SETTLE_S = 60.0


async def forget(client: aioredis.Redis, prefix: str) -> None:
    """Delete every key under `prefix` (only what one measurement wrote)."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    for i in range(0, len(keys), 1000):
        await client.unlink(*keys[i : i + 1000])


async def settle(client: aioredis.Redis, *, own: bool) -> None:
    """Wait for Redis's background work: lazy frees, and, on a Redis of our own, a rewrite
    of the append-only file started now (so that none starts during the next measurement)."""
    if own:
        await client.config_set("auto-aof-rewrite-min-size", "64gb")
        if (await client.info("persistence")).get("aof_enabled"):
            await _rewritten(client)
    deadline = time.monotonic() + _SETTLE_S
    while time.monotonic() < deadline:
        memory = await client.info("memory")
        if not memory.get("lazyfree_pending_objects"):
            return
        await asyncio.sleep(POLL_S)


async def _rewritten(client: aioredis.Redis) -> None:
    deadline = time.monotonic() + _SETTLE_S
    while (await client.info("persistence")).get("aof_rewrite_in_progress"):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(POLL_S)  # one in progress: a new one cannot start yet
    await client.bgrewriteaof()
    while time.monotonic() < deadline:
        info = await client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        await asyncio.sleep(POLL_S)


async def quiet(s: Services, prefix: str) -> None:
    """`forget(prefix)`, then `settle` (reconfiguring only a Redis the bench started)."""
    client = aioredis.Redis.from_url(s.redis_url)
    try:
        await forget(client, prefix)
        await settle(client, own=s.redis_source == "local")
    finally:
        await client.aclose()
