"""CPU time per event of `eventbridge bridge`, for one or more checkouts, over the same records.

Wall-clock throughput on a shared machine moves with whatever else runs; the CPU time a bridge
process spends per event moves far less. This produces `--events` records once (the bench's
traffic: 500 users, 2% bad), then runs each given interpreter's `eventbridge bridge` over them
(a fresh consumer group each), interleaved for `--repeat` rounds, and reports per checkout the
medians of: the bridge's CPU (utime+stime of the process, all threads, from /proc/<pid>/stat)
per event, Redis's CPU per event (`INFO cpu` of the server), and wall ev/s. Both are measured
from the group's first commit to its last (joining the group and imports are not counted).

Run: `.venv/bin/python -m bench.bridge_cpu --events 50000 --repeat 3 \
        main=.venv/bin/python base=/work/wt-base/.venv/bin/python`
(a bare interpreter path is labelled by its checkout directory; none: this interpreter).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from adapters.telemetry.setup import SAMPLER_ENV
from bench.bridge_bench import process_settings
from bench.quiet import forget, settle
from bench.rounds import in_round
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.produce import produce_all
from simulator.services import Services, services
from simulator.topics import create_topics_async
from simulator.verify import GroupProgress

PARTITIONS = 6
POLL_S = 0.05
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    bridge_us: float  # bridge CPU per event (µs)
    redis_us: float  # redis-server CPU per event (µs)
    rate: float  # events per wall second


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


async def redis_cpu_s(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True)
class Step:
    """One checkout's bridge (its interpreter), with extra environment."""

    label: str
    python: str
    env: dict[str, str]


async def measure(s: Services, topic: str, n: int, step: Step, redis: aioredis.Redis) -> Run:
    group = f"cpu-{uuid.uuid4().hex[:8]}"
    prefix = f"cpu{uuid.uuid4().hex[:6]}"
    settings = process_settings(s, topic, group, prefix)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bridge.log"
        bridge = EventBridgeProcess("bridge", settings, log, python=step.python)
        bridge.env.update(step.env)
        bridge.start()
        try:
            pid = bridge.pid
            async with GroupProgress(s.kafka_bootstrap, topic, group) as progress:
                while (backlog := await progress.backlog()) == n:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(POLL_S)
                cpu0, redis0, wall0 = cpu_s(pid), await redis_cpu_s(redis), time.perf_counter()
                while await progress.backlog() > 0:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(POLL_S)
                cpu1, redis1, wall1 = cpu_s(pid), await redis_cpu_s(redis), time.perf_counter()
        finally:
            bridge.terminate()
    await forget(redis, prefix)
    await settle(redis, own=s.redis_source == "local")
    if backlog == 0:  # the first commit already held every record: no window to measure
        raise SystemExit(f"{step.label}: the bridge took all {n} events at once; use more --events")
    return Run(
        (cpu1 - cpu0) / backlog * 1e6, (redis1 - redis0) / backlog * 1e6, backlog / (wall1 - wall0)
    )


async def main_async(s: Services, n: int, repeat: int, pythons: dict[str, str], off: bool) -> None:
    topic = f"cpu-{uuid.uuid4().hex[:6]}"
    await create_topics_async(s.kafka_bootstrap, {topic: PARTITIONS})
    await produce_all(s.kafka_bootstrap, topic, generate_n(n, seed=3, users=500, bad_ratio=0.02))
    steps = [Step(label, python, {}) for label, python in pythons.items()]
    if off:
        never = {SAMPLER_ENV: "always_off"}
        steps += [Step(f"{label} off", python, never) for label, python in pythons.items()]
    runs: dict[str, list[Run]] = {step.label: [] for step in steps}
    redis = aioredis.Redis.from_url(s.redis_url)
    try:
        await settle(redis, own=s.redis_source == "local")
        for round_ in range(1, repeat + 1):
            for step in in_round(steps, round_):
                run = await measure(s, topic, n, step, redis)
                runs[step.label].append(run)
                print(
                    f"round {round_} {step.label:>14}: {run.bridge_us:6.1f} µs/event bridge CPU,"
                    f" {run.redis_us:5.1f} redis, {run.rate:8,.0f} ev/s",
                    flush=True,
                )
    finally:
        await redis.aclose()
    print(f"\nmedians of {repeat} rounds, {n:,} events")
    print(f"{'':>14}  bridge µs/ev  redis µs/ev       ev/s")
    for label, done in runs.items():
        bridge = statistics.median(r.bridge_us for r in done)
        red = statistics.median(r.redis_us for r in done)
        rate = statistics.median(r.rate for r in done)
        print(f"{label:>14}  {bridge:12.1f}  {red:11.1f}  {rate:9,.0f}")


def _labelled(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or [sys.executable]:
        label, _, python = item.rpartition("=")
        out[label or Path(python).absolute().parents[2].name] = python
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("pythons", nargs="*", metavar="[LABEL=]PYTHON")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--off", action="store_true", help="also each with tracing off")
    args = parser.parse_args()
    with services() as s:
        asyncio.run(main_async(s, args.events, args.repeat, _labelled(args.pythons), args.off))


if __name__ == "__main__":
    main()
