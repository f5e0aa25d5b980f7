"""What the Redis topology and durable acknowledgement cost the bridge (issue 12), same run.

One Kafka (as `EVENTBRIDGE_TOPOLOGY` says) and three Redis deployments started side by side:
the topology's own Redis (a single node), a primary with one replica, and a local 3+3 Redis
Cluster. Over the same `--events` records (500 users, 2% bad), each target is measured twice:

  store   RedisStreamStore.publish of ready-made messages in batches of 1,000 (the write path
          alone: what the per-slot calls and WAIT cost, without Kafka)
  bridge  `eventbridge bridge` as its own process, timed from its first commit to its last
          (bench/bridge_bench.py's step, with the target's redis.* settings)

for the targets single (min_replicas 0), replica pair with min_replicas 0 and 1, and cluster
with min_replicas 0 and 1. Rounds interleave the steps in an order that turns (bench/rounds.py);
medians are compared, so the ratios are same-run ratios. Each step's keys are deleted after it.

Run: `.venv/bin/python -m bench.redis_failover_cost [--events 50000] [--repeat 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio.cluster import RedisCluster

from adapters.redis.client import open_client
from adapters.redis.settings import RedisSettings
from adapters.redis.store import RedisStreamStore
from bench.bridge_bench import eventbridge, messages_for
from bench.quiet import forget
from bench.rounds import in_round
from simulator.genesis import generate_n
from simulator.produce import produce_all
from simulator.redis_cluster import LocalRedisCluster
from simulator.redis_replicated import LocalRedisReplicated
from simulator.services import Services, services
from simulator.topics import create_topics_async

PARTITIONS = 6


@dataclass(frozen=True)
class Target:
    label: str
    url: str
    cluster: bool
    min_replicas: int

    def env(self) -> dict[str, str]:
        return {
            "EVENTBRIDGE__REDIS__URL": self.url,
            "EVENTBRIDGE__REDIS__CLUSTER": str(self.cluster).lower(),
            "EVENTBRIDGE__REDIS__MIN_REPLICAS": str(self.min_replicas),
        }


async def store_ceiling(t: Target, prefix: str, messages: list[Any], batch: int = 1000) -> float:
    settings = RedisSettings(
        url=t.url,
        cluster=t.cluster,
        min_replicas=t.min_replicas,
        sse_prefix=f"{prefix}:user:",
        session_prefix=f"{prefix}:s:",
    )
    async with open_client(settings) as client:
        store = RedisStreamStore(client=client, settings=settings)
        started = time.perf_counter()
        for i in range(0, len(messages), batch):
            await store.publish(messages[i : i + batch])
        return len(messages) / (time.perf_counter() - started)


async def cleaned(t: Target, prefix: str) -> None:
    """Delete what one step wrote (on a Cluster: scanned on every master, one key a call)."""
    if not t.cluster:
        await open_and_forget(t.url, prefix)
        return
    client = RedisCluster.from_url(t.url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.unlink(key)
    finally:
        await client.aclose()


async def open_and_forget(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis  # noqa: PLC0415

    client = aioredis.Redis.from_url(url)
    try:
        await forget(client, prefix)
    finally:
        await client.aclose()


Step = Callable[[str], Coroutine[Any, Any, float]]


async def main_async(s: Services, pair: str, cluster: str, args: argparse.Namespace) -> None:
    targets = [
        Target("single", s.redis_url, False, 0),
        Target("replica pair, min_replicas=0", pair, False, 0),
        Target("replica pair, min_replicas=1", pair, False, 1),
        Target("cluster 3+3, min_replicas=0", cluster, True, 0),
        Target("cluster 3+3, min_replicas=1", cluster, True, 1),
    ]
    topic = f"cost-{uuid.uuid4().hex[:6]}"
    await create_topics_async(s.kafka_bootstrap, {topic: PARTITIONS})
    records = generate_n(args.events, seed=3, users=500, bad_ratio=0.02)
    await produce_all(s.kafka_bootstrap, topic, records)
    messages = messages_for(records)
    steps: list[tuple[str, Target, Step]] = []
    for t in targets:
        steps.append((f"store  {t.label}", t, lambda p, t=t: store_ceiling(t, p, messages)))
        env = t.env()
        steps.append(
            (f"bridge {t.label}", t, lambda p, env=env: eventbridge(s, p, topic, args.events, env))
        )
    runs: dict[str, list[float]] = {name: [] for name, _, _ in steps}
    print(f"{args.events:,} events, {args.repeat} rounds", flush=True)
    for round_ in range(1, args.repeat + 1):
        for name, target, step in in_round(steps, round_):
            prefix = f"cost-{uuid.uuid4().hex[:8]}"
            runs[name].append(await step(prefix))
            await cleaned(target, prefix)
        print(f"round {round_}: " + ", ".join(f"{runs[k][-1]:,.0f}" for k in runs), flush=True)
    median = {name: statistics.median(v) for name, v in runs.items()}
    print()
    for name, value in median.items():
        spread = f"{min(runs[name]):,.0f} .. {max(runs[name]):,.0f}"
        print(f"{name:40s} {value:>10,.0f} ev/s   (runs: {spread})")
    single, pair0, pair1, cluster0, cluster1 = (t.label for t in targets)
    for kind in ("store", "bridge"):
        m = {t.label: median[f"{kind:6s} {t.label}"] for t in targets}
        print(f"\n{kind}:")
        print(f"  cluster / single (min_replicas=0)  = {m[cluster0] / m[single]:.2f}")
        print(f"  replica pair: min_replicas 1 / 0   = {m[pair1] / m[pair0]:.2f}")
        print(f"  cluster:      min_replicas 1 / 0   = {m[cluster1] / m[cluster0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are compared")
    args = parser.parse_args()
    with services() as s, tempfile.TemporaryDirectory() as tmp:
        pair = LocalRedisReplicated(Path(tmp) / "pair")
        cluster = LocalRedisCluster(Path(tmp) / "cluster")
        try:
            pair.start()
            cluster.start()
            asyncio.run(main_async(s, pair.url, cluster.url, args))
        finally:
            cluster.close()
            pair.close()


if __name__ == "__main__":
    main()
