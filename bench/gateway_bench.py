"""Gateway benchmark: N idle SSE connections on one gateway process; memory, latency, CPU.

    .venv/bin/python -m bench.gateway_bench --connections 10000 --rate 1000 --duration 20
    .venv/bin/python -m bench.gateway_bench --connections 2000 --rate 500 \\
        --compare /work/wt-base/.venv/bin/python --repeat 3

The gateway runs as a child process (`python -m eventbridge gateway`) of `--python` (default:
this interpreter), and `--compare` adds another checkout's, measured in interleaved rounds
(medians reported), so before/after is one run on one machine. Events are written by a second
child of the same interpreter as the gateway it feeds (bench/gateway_publisher.py), through that
checkout's own publish script. Clients are raw asyncio sockets in this process. Redis comes from
REDIS_URL (with EVENTBRIDGE__REDIS__CLUSTER=true for a Cluster), else the topology
EVENTBRIDGE_TOPOLOGY names (single, replica, cluster) is started locally.

Reported per gateway: connections opened and how fast; RSS per idle connection; latency from
the write (the publisher's clock just before the store's call) to the client's receipt; and the
gateway's CPU (utime + stime of its process) per event written, over the publishing window.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.gateway_clients import SECRET, cpu_s, open_all, raise_fd_limit, rss_kib, wait_ready
from simulator.processes import free_port, spawn, stop
from simulator.services import services

PUBLISHER = Path(__file__).with_name("gateway_publisher.py")


@dataclass
class Run:
    """One gateway's figures in one round."""

    opened: int
    open_s: float
    kib_per_conn: float
    published: int
    delivered: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us_per_event: float
    cpu_share: float
    drained: int
    drain_s: float
    load1: float  # the machine's 1-minute load average as the events were written


@dataclass(frozen=True)
class Target:
    """Where the gateway's Redis is, and which interpreter (checkout) runs the gateway."""

    redis_url: str
    cluster: bool
    python: str


def gateway_env(args: argparse.Namespace, target: Target, port: int, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "EVENTBRIDGE__REDIS__URL": target.redis_url,
        "EVENTBRIDGE__REDIS__CLUSTER": "true" if target.cluster else "false",
        "EVENTBRIDGE__REDIS__SSE_PREFIX": prefix,
        "EVENTBRIDGE__REDIS__MAX_CONNECTIONS": str(args.redis_pool),
        "EVENTBRIDGE__GATEWAY__PORT": str(port),
        "EVENTBRIDGE__GATEWAY__HEARTBEAT_S": str(args.heartbeat),
        "EVENTBRIDGE__AUTH__SECRET": SECRET,
        "EVENTBRIDGE__METRICS__LOG_LEVEL": "WARNING",
    }


def run_gateway(args: argparse.Namespace, target: Target) -> Run:
    """Start the gateway child, measure it, and stop it."""
    port, prefix = free_port(), f"bench{uuid.uuid4().hex[:6]}:user:"
    log = Path(tempfile.mkdtemp(prefix="gateway-bench-")) / "gateway.log"
    # spawn(): the gateway dies with this process, even if this one is killed. It inherits the
    # raised file limit.
    argv = [target.python, "-m", "eventbridge", "gateway"]
    child = spawn(argv, log=log, env=gateway_env(args, target, port, prefix))
    print(f"gateway ({target.python}) log: {log} (removed unless the round fails)")
    try:
        result = asyncio.run(measure(args, target, port, prefix, child.pid))
    finally:
        stop(child, grace_s=30)  # SIGTERM, then SIGKILL whatever is left of its group
    if child.returncode == -signal.SIGKILL:
        print(f"gateway did not stop within 30s; see {log}")
    else:
        shutil.rmtree(log.parent)  # kept only when the round failed, or the gateway hung
    return result


async def write_events(args: argparse.Namespace, target: Target, prefix: str) -> int:
    """The publisher child, fed by the gateway's own interpreter; returns the events written."""
    argv = [
        target.python, str(PUBLISHER), "--url", target.redis_url, "--prefix", prefix,
        "--users", str(args.connections), "--rate", str(args.rate),
        "--duration", str(args.duration), *(["--cluster"] if target.cluster else []),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the publisher failed with exit code {proc.returncode}")
    return int(out.split()[-1])


async def profile(args: argparse.Namespace, pid: int) -> asyncio.subprocess.Process | None:
    """`--py-spy FILE`: sample the gateway while events are written (collapsed stacks)."""
    if not args.py_spy:
        return None
    spy = str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "--pid", str(pid), "--duration", str(int(args.duration)), "--rate",
            "250", "--format", "raw", "--output", args.py_spy, "--nonblocking"]  # fmt: skip
    return await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL)


async def measure(
    args: argparse.Namespace, target: Target, port: int, prefix: str, pid: int
) -> Run:
    await wait_ready(port)
    latencies: list[float] = []
    warm = await open_all(port, [f"w{i}" for i in range(100)], latencies)
    for c in warm:
        assert c.transport is not None
        c.transport.close()
    await asyncio.sleep(2)  # let the gateway release the warm-up connections
    base = rss_kib(pid)
    t0 = time.monotonic()
    clients = await open_all(port, [f"u{i}" for i in range(args.connections)], latencies)
    open_s = time.monotonic() - t0
    await asyncio.sleep(3)  # settle: idle connections only
    per_conn = (rss_kib(pid) - base) / len(clients)
    latencies.clear()
    cpu0, w0 = cpu_s(pid), time.monotonic()
    spy = await profile(args, pid)
    sent = await write_events(args, target, prefix)
    if spy is not None:
        await spy.wait()
    deadline = time.monotonic() + 30
    while len(latencies) < sent and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # waiting for the last deliveries with a deadline
    cpu, wall = cpu_s(pid) - cpu0, time.monotonic() - w0
    load1 = os.getloadavg()[0]
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [float("nan")] * 99
    # Graceful drain with every connection open: SIGTERM, then each stream must end.
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while sum(c.closed for c in clients) < len(clients) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # waiting for the streams to end, with a deadline
    drained = sum(c.closed for c in clients)
    for c in clients:
        assert c.transport is not None
        c.transport.close()
    return Run(
        opened=len(clients),
        open_s=open_s,
        kib_per_conn=per_conn,
        published=sent,
        delivered=len(ms),
        p50_ms=q[49],
        p99_ms=q[98],
        max_ms=ms[-1] if ms else float("nan"),
        cpu_us_per_event=cpu / max(sent, 1) * 1e6,
        cpu_share=cpu / wall,
        drained=drained,
        drain_s=time.monotonic() - started,
        load1=load1,
    )


def show(name: str, run: Run) -> None:
    print(
        f"  {name}: {run.opened} connections in {run.open_s:.1f}s, "
        f"{run.kib_per_conn:.1f} KiB per idle connection; events {run.delivered}/{run.published}; "
        f"write -> client p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, max "
        f"{run.max_ms:.1f} ms; gateway CPU {run.cpu_us_per_event:.0f} us/event "
        f"({run.cpu_share * 100:.0f}% of a core); drain {run.drained}/{run.opened} "
        f"in {run.drain_s:.1f}s; load average (1 min) {run.load1:.2f}"
    )


def medians(runs: list[Run]) -> Run:
    fields = Run.__dataclass_fields__
    return Run(**{f: statistics.median(getattr(r, f) for r in runs) for f in fields})


def run_all(args: argparse.Namespace, redis_url: str, cluster: bool) -> None:
    pythons = {"this": args.python}
    if args.compare:
        pythons["compare"] = args.compare
    runs: dict[str, list[Run]] = {name: [] for name in pythons}
    for round_no in range(1, args.repeat + 1):
        for name, python in pythons.items():  # interleaved: a slow moment hits both
            run = run_gateway(args, Target(redis_url, cluster, python))
            runs[name].append(run)
            print(f"round {round_no}:")
            show(name, run)
    print(
        f"medians of {args.repeat} round(s), {args.connections} connections, {args.rate:g} "
        f"events/s for {args.duration:g}s, Redis {'cluster' if cluster else 'single node'}:"
    )
    for name, python in pythons.items():
        show(f"{name} ({python})", medians(runs[name]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second, all users")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--heartbeat", type=float, default=15.0)
    parser.add_argument("--redis-pool", type=int, default=64, help="gateway's Redis pool")
    parser.add_argument("--python", default=sys.executable, help="the gateway's interpreter")
    parser.add_argument("--compare", help="another checkout's interpreter, measured alongside")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--py-spy", help="record the gateway's stacks to this file (py-spy)")
    args = parser.parse_args()
    print(f"fd limit {raise_fd_limit()}")
    # The measuring process holds N connections too: keep its GC pauses out of the figures.
    gc.set_threshold(50_000, 20, 100)
    url = os.environ.get("REDIS_URL")
    if url:
        flag = os.environ.get("EVENTBRIDGE__REDIS__CLUSTER", "").strip().lower()
        run_all(args, url, flag in ("1", "true", "yes"))
        return
    with services(need_kafka=False) as provided:
        run_all(args, provided.redis_url, provided.redis_cluster)


if __name__ == "__main__":
    main()
