"""Bridge throughput next to baselines measured in the same run (issue 3's benchmark).

  naive     one event at a time, two sequential Redis round trips (XADD, then PUBLISH) and
            three log lines per event: the original design (SPEC §13)
  kafka     aiokafka consuming the same topic and doing nothing: the fetch ceiling
  redis     RedisStreamStore.publish of ready-made messages in batches: the write ceiling
  bridge    EventBridge's BridgeService with the real adapters, as `eventbridge bridge` runs it

Each is measured `--repeat` times, interleaved (kafka, redis, naive, bridge, kafka, ...) in an
order that turns from round to round (bench/rounds.py), and the medians are compared, so a
slow moment of the shared machine does not decide the result. Between two steps Redis deletes
what the step wrote and finishes its background work (bench/quiet.py).

Run: `make bench` (= `.venv/bin/python -m bench`) or `.venv/bin/python -m bench.bridge_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from adapters.redis.client import open_client
from adapters.redis.keys import RedisKeys
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from adapters.telemetry.setup import SAMPLER_ENV
from bench.quiet import quiet
from bench.rounds import in_round
from domain.filter import EventFilter, FilterPolicy
from domain.mapper import SseMapper
from domain.model import Partition, Record
from eventbridge.triager import build_triager
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.produce import produce_all
from simulator.services import Services, services
from simulator.topics import create_topics_async
from simulator.verify import GroupProgress

PARTITIONS = 6
POLL_S = 0.05


async def kafka_ceiling(s: Services, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"raw-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got, started = 0, 0.0
        while got < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if batches and not started:
                started = time.perf_counter()
            got += sum(len(v) for v in batches.values())
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def messages_for(records: list[Any]) -> list[Any]:
    triager = build_triager()
    raw = [Record(Partition("t", 0), i, r.key, r.value) for i, r in enumerate(records)]
    triage = triager.triage(triager.decode(raw), now=datetime.now(UTC))
    return [m for _, m in triage.deliver]


async def redis_ceiling(s: Services, prefix: str, messages: list[Any], batch: int = 1000) -> float:
    settings = RedisSettings(
        url=s.redis_url, sse_prefix=f"{prefix}:user:", session_prefix=f"{prefix}:s:"
    )
    async with open_client(settings) as client:
        store = RedisStreamStore(client=client, settings=settings)
        started = time.perf_counter()
        for i in range(0, len(messages), batch):
            await store.publish(messages[i : i + batch])
        return len(messages) / (time.perf_counter() - started)


async def naive_bridge(s: Services, prefix: str, topic: str, n: int) -> float:
    """The original shape: getone, decode, filter, XADD, PUBLISH, three log lines, per event."""
    log = logging.getLogger("bench.naive")
    log.propagate = False
    log.addHandler(logging.FileHandler("/dev/null"))
    log.setLevel(logging.INFO)
    keys = RedisKeys(sse_prefix=f"{prefix}:user:")
    event_filter, mapper = EventFilter(FilterPolicy()), SseMapper(dumps=orjson.dumps)
    owners: dict[str, str] = {}  # the original's in-process session→owner map
    client = aioredis.Redis.from_url(s.redis_url)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=s.kafka_bootstrap,
        group_id=f"naive-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        started = 0.0
        for i in range(n):
            msg = await consumer.getone()
            if not started:
                started = time.perf_counter()
            log.info("received event", extra={"offset": msg.offset, "partition": msg.partition})
            try:
                obj = orjson.loads(msg.value)
            except orjson.JSONDecodeError:
                continue
            env = (
                event_filter.check(obj, {}, now=datetime.now(UTC), session_owner=owners.get)
                if isinstance(obj, dict)
                else None
            )
            message = (
                mapper.to_message(env) if env is not None and not hasattr(env, "reason") else None
            )
            if message is None or hasattr(message, "reason"):
                log.info("event filtered", extra={"offset": msg.offset})
                continue
            if message.teaches_owner:
                owners.setdefault(message.session_id, message.user_id)
            stream_id = await client.xadd(
                keys.stream(message.user_id), {"d": message.data}, maxlen=1000
            )
            await client.publish(keys.notify(message.user_id), stream_id)
            log.info(
                "event published", extra={"event_id": message.event_id, "stream_id": stream_id}
            )
            if i % 100 == 99:
                await consumer.commit()
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await client.aclose()


def process_settings(s: Services, topic: str, group: str, prefix: str) -> dict[str, Any]:
    """The settings of a benchmarked `eventbridge bridge` process: its own group and key
    prefix, an ephemeral HTTP port, warnings only."""
    return {
        "kafka": {"bootstrap_servers": s.kafka_bootstrap, "topic": topic, "group_id": group},
        "redis": {
            "url": s.redis_url,
            "sse_prefix": f"{prefix}:user:",
            "session_prefix": f"{prefix}:s:",
        },
        "bridge": {"http_port": 0},
        "metrics": {"log_level": "WARNING"},
    }


async def eventbridge(
    s: Services,
    prefix: str,
    topic: str,
    n: int,
    env: dict[str, str] | None = None,
    *,
    python: str | None = None,
) -> float:
    """`eventbridge bridge` as its own process (default settings, `env` added to its
    environment; `python`: another checkout's interpreter); timed from its first commit to its
    last."""
    group = f"eventbridge-{uuid.uuid4().hex[:8]}"
    settings = process_settings(s, topic, group, prefix)
    with tempfile.TemporaryDirectory() as tmp:
        bridge = EventBridgeProcess("bridge", settings, Path(tmp) / "bridge.log", python=python)
        bridge.env.update(env or {})
        bridge.start()
        try:
            async with GroupProgress(s.kafka_bootstrap, topic, group) as progress:
                # Joining the group is not counted: the clock starts at the first commit.
                # Polled every POLL_S: each poll is two Kafka requests, on the same two cores.
                while (backlog := await progress.backlog()) == n:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(POLL_S)  # polling another process's progress
                started, first = time.perf_counter(), n - backlog
                while await progress.backlog() > 0:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(POLL_S)
                return (n - first) / (time.perf_counter() - started)
        finally:
            bridge.terminate()


def other_bridge(
    s: Services, topic: str, n: int, python: str, env: dict[str, str] | None
) -> Callable[[str], Coroutine[Any, Any, float]]:
    """The `eventbridge` step for another checkout's interpreter."""
    return lambda prefix: eventbridge(s, prefix, topic, n, env, python=python)


TRACING_OFF = "eventbridge, tracing off (always_off)"
KAFKA, REDIS, NAIVE, BRIDGE = (
    "kafka ceiling (consume, do nothing)",
    "redis ceiling (write path alone)",
    "naive bridge",
    "eventbridge",
)


async def main_async(
    s: Services,
    n: int,
    naive_n: int,
    repeat: int,
    tracing: bool,
    *,
    compare: dict[str, str] | None = None,
) -> None:
    topic = f"bench-{uuid.uuid4().hex[:6]}"
    await create_topics_async(s.kafka_bootstrap, {topic: PARTITIONS})
    records = generate_n(n, seed=3, users=500, bad_ratio=0.02)
    await produce_all(s.kafka_bootstrap, topic, records)
    messages = messages_for(records)
    steps: list[tuple[str, Callable[[str], Coroutine[Any, Any, float]]]] = [
        (KAFKA, lambda _: kafka_ceiling(s, topic, n)),
        (REDIS, lambda prefix: redis_ceiling(s, prefix, messages)),
        (NAIVE, lambda prefix: naive_bridge(s, prefix, topic, naive_n)),
        (BRIDGE, lambda prefix: eventbridge(s, prefix, topic, n)),
    ]
    if tracing:  # the row above runs with tracing on, at the default sampling
        steps.append(
            (
                TRACING_OFF,
                lambda prefix: eventbridge(s, prefix, topic, n, {SAMPLER_ENV: "always_off"}),
            )
        )
    for label, python in (compare or {}).items():  # other checkouts, in the same rounds
        steps.append((f"{BRIDGE} @{label}", other_bridge(s, topic, n, python, None)))
        if tracing:
            off = {SAMPLER_ENV: "always_off"}
            steps.append((f"{TRACING_OFF} @{label}", other_bridge(s, topic, n, python, off)))
    print(f"{n:,} events ({naive_n:,} for the naive bridge), {repeat} rounds", flush=True)
    runs: dict[str, list[float]] = {name: [] for name, _ in steps}
    await quiet(s, "bench-none-")
    for round_ in range(1, repeat + 1):
        for name, step in in_round(steps, round_):
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            runs[name].append(await step(prefix))
            await quiet(s, prefix)
        print(f"round {round_}: " + ", ".join(f"{runs[k][-1]:,.0f}" for k in runs), flush=True)
    median = {name: statistics.median(values) for name, values in runs.items()}
    print()
    for name, value in median.items():
        spread = f"{min(runs[name]):,.0f} .. {max(runs[name]):,.0f}"
        print(f"{name:45s} {value:>10,.0f} events/s   (runs: {spread})")
    ours, ceiling = median[BRIDGE], min(median[KAFKA], median[REDIS])
    print(f"\neventbridge / naive bridge   = {ours / median[NAIVE]:6.1f}x   (target >= 10x)")
    print(f"eventbridge / lower ceiling  = {ours / ceiling:6.2f}    (target >= 0.5)")
    if tracing:
        cost = 1 - ours / median[TRACING_OFF]
        print(f"tracing on costs             = {cost:6.1%} of throughput (budget <= 5%)")
    for label in compare or {}:
        other = median[f"{BRIDGE} @{label}"]
        print(
            f"\n@{label}: {other / median[NAIVE]:6.1f}x naive, {other / ceiling:6.2f} of the lower"
        )
        print(f"  ceiling; this checkout / @{label} = {ours / other:6.2f}")
        if tracing:
            cost = 1 - other / median[f"{TRACING_OFF} @{label}"]
            print(f"  tracing on costs @{label} {cost:6.1%} of throughput")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are compared")
    parser.add_argument(
        "--tracing", action="store_true", help="also run the bridge with tracing off, to compare"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=PYTHON",
        help="also run another checkout's bridge (its .venv/bin/python) in the same rounds",
    )
    args = parser.parse_args()
    compare = dict(item.split("=", 1) for item in args.compare)
    with services() as s:
        asyncio.run(
            main_async(
                s, args.events, args.naive_events, args.repeat, args.tracing, compare=compare
            )
        )


if __name__ == "__main__":
    main()
