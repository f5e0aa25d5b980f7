"""What each kind of process of a load run spent, in CPU, while the traffic flowed.

Sampled once a second from /proc (utime + stime of the process, all its threads), per PID, so
that a process killed and restarted by the fault schedule counts with both of its lives (less
at most the last second of the killed one). Roles: kafka, redis, bridge, gateway, nginx (the
master and its workers) and runner (this process: the producer and every browser)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) `pid` has used; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    """`pid`'s child processes (nginx's workers)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """Samples `roles()` (role → PIDs, asked again each time: PIDs change on restarts)."""

    def __init__(self, roles: Callable[[], dict[str, Iterable[int]]]) -> None:
        self._roles = roles
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}

    def sample(self) -> None:
        for role, pids in self._roles().items():
            for pid in pids:
                used = cpu_s(pid)
                if used is not None:
                    self._first.setdefault((role, pid), used)
                    self._last[(role, pid)] = used

    async def watch(self, done: asyncio.Event, every_s: float = 1.0) -> None:
        """Sample now, then every `every_s` until `done`, and once more at the end."""
        self.sample()
        while not done.is_set():
            try:
                async with asyncio.timeout(every_s):
                    await done.wait()
            except TimeoutError:
                self.sample()
        self.sample()

    def used(self) -> dict[str, float]:
        """CPU seconds per role between the first and the last sample of each PID."""
        out: dict[str, float] = {}
        for key, last in self._last.items():
            out[key[0]] = out.get(key[0], 0.0) + last - self._first[key]
        return out


async def stream_bytes_per_entry(
    redis_url: str, prefix: str, users: Sequence[str], *, cluster: bool, sample: int = 20
) -> float | None:
    """Redis memory per stream entry (`MEMORY USAGE ... SAMPLES 0` of up to `sample` users'
    streams over their length): what a user's retained history costs."""
    client: Any = (
        RedisCluster.from_url(redis_url) if cluster else aioredis.Redis.from_url(redis_url)
    )
    size = entries = 0
    try:
        for user in users[:sample]:
            key = f"{prefix}{{{user}}}:stream"
            used = await client.memory_usage(key, samples=0)
            if used:
                size += int(used)
                entries += int(await client.xlen(key))
    finally:
        await client.aclose()
    return round(size / entries, 1) if entries else None
