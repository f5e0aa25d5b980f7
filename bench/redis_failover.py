"""Failover without loss (issue 12, item 5): a bridge under steady traffic on the local 3+3
Redis Cluster while a node is lost, with `redis.min_replicas` 1 and 0, verified per user.

Faults (`--faults`, each run `--runs` times per setting):

  master   SIGKILL the master serving a user with traffic; its replica is promoted; the old
           master is started again (`--down-s` later) and rejoins as the new one's replica
  replica  SIGKILL that master's replica; started again `--down-s` later
  lagging  the replica falls behind first: its link is cut (CLIENT KILL TYPE replica on the
           master) and it is frozen (SIGSTOP), so writes the master acknowledges for
           `--lag-s` reach no replica; then the master is SIGKILLed, the replica thawed
           (SIGCONT) and promoted with what it had, the old master restarted

Each run: its own topic (6 partitions), group and key prefix; `--rate` events/s for
`--seconds`, the fault a third of the way in; then it waits until the bridge committed
everything and reads every user's stream back (simulator/verify.py): lost, duplicated, out
of order. It also reports the longest silence of Redis writes after the fault, the bridge's
WAIT shortfalls (its metric) and breaker openings (its log). The bridge runs with a quick
breaker (2 calls, 1 s cool-down) and retry (0.2-1 s), stated in the output.

Run: `.venv/bin/python -m bench.redis_failover [--runs 3] [--faults master,replica,lagging]
[--min-replicas 1,0] [--rate 400] [--seconds 15] [--plot docs/redis-failover.png]
[--json out.json]` (Kafka as `EVENTBRIDGE_TOPOLOGY` says; the Redis Cluster is started here,
or taken from the topology when it is `cluster`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bench.redis_failover_faults import Fault
from bench.redis_failover_plot import plot_runs
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.produce import produce_paced
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services, services
from simulator.topics import create_topics_async
from simulator.verify import group_backlog, read_streams, read_topic, verify

PARTITIONS = 6
BREAKER = {"minimum_calls": 2, "cool_down_s": 1.0, "window_s": 5.0}
RETRY = {"retry_backoff_s": 0.2, "retry_backoff_max_s": 1.0}


@dataclass
class Outcome:
    fault: str
    min_replicas: int
    run: int
    produced: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    longest_silence_s: float = 0.0  # of Redis writes, from the fault on
    drained_after_fault_s: float = 0.0  # from the fault until everything was committed
    shortfalls: int = 0
    breaker_opened: int = 0
    marks: list[tuple[float, str]] = field(default_factory=list)  # s since the first produce
    writes: list[float] = field(default_factory=list)  # Redis write times, same clock
    lost_ids: list[str] = field(default_factory=list)


async def _metric(port: int, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def _until_ready(port: int, bridge: EventBridgeProcess, timeout_s: float = 90.0) -> None:
    """The bridge's /readyz says ready (joined, partitions assigned, Redis answering)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline and bridge.running:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)  # polling another process's readiness
    raise RuntimeError("the bridge did not become ready")


def bridge_settings(
    s: Services,
    cluster: LocalRedisCluster,
    *,
    topic: str,
    group: str,
    prefix: str,
    min_replicas: int,
    port: int,
) -> dict[str, Any]:
    return {
        "kafka": {"bootstrap_servers": s.kafka_bootstrap, "topic": topic, "group_id": group},
        "redis": {
            "url": cluster.url,
            "cluster": True,
            "sse_prefix": prefix,
            "session_prefix": prefix.replace(":user:", ":session:"),
            "min_replicas": min_replicas,
        },
        "circuit_breaker": BREAKER,
        "bridge": {"http_port": port, **RETRY},
        "metrics": {"log_level": "WARNING"},
    }


def measured(out: Outcome, streams: dict[str, Any], t0: float, marks: list[Any]) -> None:
    """Redis write times and the fault's moments on the run's clock; the longest silence."""
    out.writes = sorted(
        int(e.stream_id.split("-")[0]) / 1000 - t0 for es in streams.values() for e in es
    )
    out.marks = [(at - t0, what) for at, what in marks]
    fault_at = out.marks[0][0]
    after = [w for w in out.writes if w >= fault_at]
    gaps = [b - a for a, b in zip([fault_at, *after], after, strict=False)]
    out.longest_silence_s = round(max(gaps, default=0.0), 2)


async def one_run(
    s: Services, cluster: LocalRedisCluster, fault: str, *, min_replicas: int, i: int, args: Any
) -> Outcome:
    unique = uuid.uuid4().hex[:8]
    topic, group, prefix = f"failover-{unique}", f"eb-failover-{unique}", f"fo{unique}:user:"
    await create_topics_async(s.kafka_bootstrap, {topic: PARTITIONS})
    n = int(args.rate * args.seconds)
    records = [
        replace(r, at=k / args.rate)
        for k, r in enumerate(generate_n(n, seed=100 + i, users=200, bad_ratio=0.0))
    ]
    victim = next(r.expect.user_id for r in records if r.expect.user_id)
    master = cluster.master_of(f"{prefix}{{{victim}}}:stream")
    port = free_port()
    settings = bridge_settings(
        s, cluster, topic=topic, group=group, prefix=prefix, min_replicas=min_replicas, port=port
    )
    out = Outcome(fault, min_replicas, i, produced=n)
    injected = Fault(cluster, fault, args)
    with tempfile.TemporaryDirectory() as tmp:
        bridge = EventBridgeProcess("bridge", settings, Path(tmp) / "bridge.log")
        bridge.start()
        try:
            await _until_ready(port, bridge)
            t0 = time.time()
            producing = asyncio.create_task(produce_paced(s.kafka_bootstrap, topic, records))
            await asyncio.sleep(args.seconds / 3)
            await asyncio.to_thread(injected.run, master)
            await producing
            deadline = time.monotonic() + args.drain_timeout_s
            while await group_backlog(s.kafka_bootstrap, topic, group) > 0:
                if time.monotonic() > deadline or not bridge.running:
                    raise RuntimeError(f"{fault}/{min_replicas}: the bridge did not drain")
                await asyncio.sleep(0.2)  # polling another process's commits
            out.drained_after_fault_s = time.time() - injected.marks[0][0]
            out.shortfalls = int(await _metric(port, "eventbridge_redis_replica_shortfalls"))
        finally:
            bridge.terminate()
        out.breaker_opened = sum(
            1 for e in bridge.log_entries() if str(e.get("message")) == "breaker closed -> open"
        )
    streams = await read_streams(cluster.url, prefix, cluster=True)
    checked = verify(records, streams, await read_topic(s.kafka_bootstrap, f"{topic}.dlq"))
    out.delivered, out.lost, out.lost_ids = checked.delivered, checked.lost, checked.lost_ids[:20]
    out.duplicated, out.out_of_order = checked.duplicated, checked.out_of_order
    measured(out, streams, t0, injected.marks)
    return out


@contextlib.contextmanager
def a_cluster(s: Services, workdir: Path) -> Any:
    if s.redis_local_cluster is not None:
        yield s.redis_local_cluster
        return
    cluster = LocalRedisCluster(workdir / "redis-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def table(outcomes: list[Outcome]) -> str:
    head = (
        f"{'fault':8s} {'min_rep':>7s} {'run':>3s} {'produced':>8s} {'lost':>5s} {'dup':>4s}"
        f" {'ooo':>4s} {'silence_s':>9s} {'drained_s':>9s} {'shortfalls':>10s} {'opened':>6s}"
    )
    lines = [head]
    for o in outcomes:
        lines.append(
            f"{o.fault:8s} {o.min_replicas:7d} {o.run:3d} {o.produced:8d} {o.lost:5d}"
            f" {o.duplicated:4d} {o.out_of_order:4d} {o.longest_silence_s:9.2f}"
            f" {o.drained_after_fault_s:9.1f} {o.shortfalls:10d} {o.breaker_opened:6d}"
        )
    return "\n".join(lines)


async def main_async(s: Services, args: argparse.Namespace) -> list[Outcome]:
    faults = args.faults.split(",")
    settings = [int(x) for x in args.min_replicas.split(",")]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp, a_cluster(s, Path(tmp)) as cluster:
        print(f"Redis Cluster of {len(cluster.nodes)} nodes at {cluster.url}; breaker {BREAKER}")
        for run in range(1, args.runs + 1):
            for fault in faults:
                for min_replicas in settings:
                    o = await one_run(
                        s, cluster, fault, min_replicas=min_replicas, i=run, args=args
                    )
                    outcomes.append(o)
                    print(table([o]).splitlines()[-1], flush=True)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--faults", default="master,replica,lagging")
    parser.add_argument("--min-replicas", default="1,0")
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--down-s", type=float, default=3.0, help="until a killed node restarts")
    parser.add_argument("--lag-s", type=float, default=1.0, help="lagging: writes no replica has")
    parser.add_argument("--drain-timeout-s", type=float, default=120.0)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with services() as s:
        outcomes = asyncio.run(main_async(s, args))
    print()
    print(table(outcomes))
    if args.plot is not None:
        plot_runs(args.plot, [o for o in outcomes if o.run == 1], rate=args.rate)
        print(f"plot: {args.plot}")
    if args.json is not None:
        rows = [{k: v for k, v in asdict(o).items() if k != "writes"} for o in outcomes]
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
