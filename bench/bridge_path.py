"""CPU per event of the bridge's own path, in one process: for iterating on its cost.

BridgeService with the real triager, RedisStreamStore (a real Redis), OtelTelemetry (real
providers, default sampling) and SystemClock, over an in-memory source holding the bench's
traffic (500 users, 2% bad, keyed by session as the producer keys it) and the in-memory dead
letters. What it leaves out is Kafka's side: aiokafka's fetching and record unpacking and the
dead-letter producer (`bench.bridge_cpu` measures the whole process). This process's CPU time
(`time.process_time`) over a run, per event; the best and the median of `--repeat` runs, so
a busy moment of a shared machine shows as spread rather than as a result.

Run: `.venv/bin/python -m bench.bridge_path --events 50000 --repeat 5 [--tracing-off]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
import zlib

import redis.asyncio as aioredis

from adapters.clock import SystemClock
from adapters.redis.client import open_client
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.telemetry.otel import OtelTelemetry
from adapters.telemetry.setup import providers_open
from application.bridge import BridgeService
from application.fake_clock import FakeClock
from application.fake_dead_letters import FakeDeadLetters
from application.fake_source import FakeEventSource
from application.policy import BridgePolicy
from bench.quiet import forget
from domain.breaker import BreakerPolicy, CircuitBreaker
from domain.model import Partition
from eventbridge.gc_tuning import gc_tuned
from eventbridge.settings import MetricsSettings
from eventbridge.triager import build_triager
from simulator.genesis import generate_n
from simulator.services import Services, services

PARTITIONS = [Partition("bench", p) for p in range(6)]


def loaded_source(records: list[object]) -> FakeEventSource:
    """The records in their partitions (by key, as the producer's partitioner spreads them)."""
    source = FakeEventSource(FakeClock(), PARTITIONS)
    for r in records:
        key: bytes | None = getattr(r, "key", None)
        partition = PARTITIONS[zlib.crc32(key or b"") % len(PARTITIONS)]
        source.append(partition, key, r.value, tuple(r.headers))  # type: ignore[attr-defined]
    return source


async def one_run(s: Services, records: list[object], tracing: bool) -> float:
    """CPU µs per event of one bridge over all the records (until the last is committed)."""
    prefix = f"path{uuid.uuid4().hex[:6]}"
    settings = RedisSettings(
        url=s.redis_url, sse_prefix=f"{prefix}:user:", session_prefix=f"{prefix}:s:"
    )
    source = loaded_source(records)
    ratio = MetricsSettings().trace_sample_ratio
    with providers_open(service_name="bench", sample_ratio=ratio, tracing=tracing) as built:
        tracer = built.tracer_provider.get_tracer("bench") if built.tracing else None
        telemetry = OtelTelemetry(meter=built.meter_provider.get_meter("bench"), tracer=tracer)
        async with open_client(settings) as client:
            bridge = BridgeService(
                source=source,
                store=RedisStreamStore(client=client, settings=settings),
                dead_letters=FakeDeadLetters(),
                telemetry=telemetry,
                clock=SystemClock(),
                breaker=CircuitBreaker(BreakerPolicy()),
                triager=build_triager(),
                policy=BridgePolicy(),
            )
            with gc_tuned():  # as the process runs it
                await bridge.step()  # joins: the first batch, as the process's first fetch
                started = time.process_time()
                while bridge.totals.consumed < len(records):
                    await bridge.step()
                await bridge.settle()
                used = time.process_time() - started
            await bridge.drain()
    cleaner = aioredis.Redis.from_url(s.redis_url)
    try:
        await forget(cleaner, prefix)
    finally:
        await cleaner.aclose()
    return used / len(records) * 1e6


async def main_async(s: Services, n: int, repeat: int, tracing: bool) -> None:
    records: list[object] = list(generate_n(n, seed=3, users=500, bad_ratio=0.02))
    runs = []
    for i in range(repeat):
        runs.append(await one_run(s, records, tracing))
        print(f"run {i + 1}: {runs[-1]:6.2f} µs/event", flush=True)
    print(
        f"bridge path, {n:,} events, tracing {'on' if tracing else 'off'}: "
        f"best {min(runs):.2f}, median {statistics.median(runs):.2f} µs/event CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tracing-off", action="store_true")
    args = parser.parse_args()
    with services(need_kafka=False) as s:
        asyncio.run(main_async(s, args.events, args.repeat, not args.tracing_off))


if __name__ == "__main__":
    main()
