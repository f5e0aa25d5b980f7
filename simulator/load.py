"""`python -m simulator load`: Kafka, Redis, bridge and gateway processes, browsers, a report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from simulator.genesis_model import TrafficConfig
from simulator.load_procs import ServiceProcess
from simulator.load_report import LoadReport, build_report
from simulator.load_sse import Follower, Receipt, mint_token
from simulator.loop_lag import LoopLag, cyclic_gc_paused
from simulator.processes import free_port
from simulator.services import Services, services
from simulator.topics import create_topics_async
from simulator.traffic import Tally, produce_traffic, traffic_config
from simulator.verify import group_backlog, read_streams, read_topic, verify

OUTAGE_S = 2.0  # how long redis-server stays down when --restart-redis-at is given


@dataclass(frozen=True)
class LoadPlan:
    """A load run: the traffic, the outage if any, and where the report goes."""

    traffic: TrafficConfig
    restart_at_s: float | None
    policy: str
    partitions: int
    cool_down_s: float
    settle_s: float
    png: Path | None
    json: Path | None
    workdir: Path | None
    python: str | None = None  # the interpreter of the EventBridge processes (another checkout's)


def plan_from(args: argparse.Namespace) -> LoadPlan:
    return LoadPlan(
        traffic=traffic_config(args, args.duration),
        restart_at_s=args.restart_redis_at,
        policy=args.policy,
        partitions=args.partitions,
        cool_down_s=args.cool_down,
        settle_s=args.settle,
        png=args.report,
        json=args.json,
        workdir=args.workdir,
        python=args.eventbridge_python,
    )


def process_settings(svc: Services, unique: str, *, port: int, secret: str) -> dict[str, Any]:
    """Settings of the bridge and gateway processes (`EVENTBRIDGE__...` env variables)."""
    return {
        "kafka": {
            "bootstrap_servers": svc.kafka_bootstrap,
            "topic": f"load-{unique}",
            "group_id": f"eventbridge-load-{unique}",
        },
        "redis": {
            "url": svc.redis_url,
            "cluster": svc.redis_cluster,
            "sse_prefix": f"load{unique}:user:",
            "session_prefix": f"load{unique}:session:",
            "ticket_prefix": f"load{unique}:ticket:",
        },
        "bridge": {"http_port": 0},
        "gateway": {"host": "127.0.0.1", "port": port},
        "auth": {"secret": secret},
    }


@contextmanager
def running(*procs: ServiceProcess) -> Iterator[None]:
    """Start each process; stop them all (SIGTERM, then SIGKILL) whatever happens."""
    try:
        for proc in procs:
            proc.start()
        yield
    finally:
        for proc in reversed(procs):
            proc.terminate(grace_s=20)


class LoadRun:
    """One run: its processes, its browsers, the traffic it produced and what arrived."""

    def __init__(self, plan: LoadPlan, svc: Services, workdir: Path) -> None:
        self.plan = plan
        self.svc = svc
        self.unique = secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(32)
        self.port = free_port()
        self.settings = process_settings(svc, self.unique, port=self.port, secret=self.secret)
        self.settings["circuit_breaker"] = {"policy": plan.policy, "cool_down_s": plan.cool_down_s}
        self.topic = self.settings["kafka"]["topic"]
        self.bridge = ServiceProcess(
            "bridge", self.settings, workdir / "bridge.log", python=plan.python
        )
        self.gateway = ServiceProcess(
            "gateway", self.settings, workdir / "gateway.log", python=plan.python
        )
        self.metrics: dict[str, str] = {}  # each process's /metrics at the end of the traffic
        self.tally = Tally()
        self.sent: list[tuple[str, float]] = []
        self.acked: list[tuple[str, float]] = []  # (event id, when Kafka acknowledged it)
        self.loop_lag = LoopLag()  # this process's loop while the traffic runs
        self.got: set[str] = set()
        self.marks: list[tuple[float, str]] = []
        users = range(1, plan.traffic.users + 1)
        self.followers = [
            Follower(self.base_url, str(u), mint_token(self.secret, str(u))) for u in users
        ]
        for f in self.followers:
            f.on_receipt = self._took

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _took(self, receipt: Receipt) -> None:
        self.got.add(receipt.event_id)

    def run(self) -> LoadReport:
        topics = {self.topic: self.plan.partitions}
        asyncio.run(create_topics_async(self.svc.kafka_bootstrap, topics))
        with running(self.bridge, self.gateway):
            self.bridge.wait_logged("bridge started")
            self.gateway.wait_http(f"{self.base_url}/livez")
            with cyclic_gc_paused():  # its full collections stalled the runner, not the product
                asyncio.run(self._drive())
            self.metrics = self._scrape()
        return asyncio.run(self._report())

    def _scrape(self) -> dict[str, str]:
        """The bridge's and the gateway's /metrics, as they stand ("" when not served)."""
        port = next(
            (
                e.get("port")
                for e in self.bridge.log_entries()
                if e.get("message") == "bridge http listening"
            ),
            None,
        )
        urls = {"gateway": f"{self.base_url}/metrics"}
        if port:
            urls["bridge"] = f"http://127.0.0.1:{port}/metrics"
        out = dict.fromkeys(("bridge", "gateway"), "")
        for name, url in urls.items():
            try:
                response = httpx.get(url, timeout=5.0)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                out[name] = response.text
        return out

    async def _drive(self) -> None:
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=len(self.followers) + 8)
        timeout = httpx.Timeout(10.0, read=None)
        produced = asyncio.Event()
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            browsing = [asyncio.create_task(f.run(stop, client)) for f in self.followers]
            try:
                await self._until(lambda: all(f.connects for f in self.followers), 30, "browsers")
                outage = asyncio.create_task(self._outage())
                watching = asyncio.create_task(self.loop_lag.watch(produced))
                await produce_traffic(
                    self.svc.kafka_bootstrap,
                    self.topic,
                    self.plan.traffic,
                    partitions=self.plan.partitions,
                    tally=self.tally,
                    sent=self.sent,
                    acked=self.acked,
                )
                produced.set()
                await asyncio.gather(outage, watching)
                expected = {
                    r.expect.event_id
                    for r in self.tally.records
                    if r.expect.outcome == "delivered" and r.expect.event_id
                }
                settle = self.plan.settle_s
                with contextlib.suppress(TimeoutError):
                    await self._until(lambda: expected <= self.got, settle, "deliveries")
                with contextlib.suppress(TimeoutError):
                    await self._until_committed(settle)
            finally:
                produced.set()
                stop.set()
                await asyncio.gather(*browsing, return_exceptions=True)

    async def _until(self, done: Any, timeout_s: float, what: str) -> None:
        async with asyncio.timeout(timeout_s):
            while True:
                if done():
                    return
                await asyncio.sleep(0.1)  # polling the browsers' progress with a deadline

    async def _until_committed(self, timeout_s: float) -> None:
        group = self.settings["kafka"]["group_id"]
        async with asyncio.timeout(timeout_s):
            while True:
                if not await group_backlog(self.svc.kafka_bootstrap, self.topic, group):
                    return
                await asyncio.sleep(0.25)  # polling the consumer group with a deadline

    async def _outage(self) -> None:
        at, local = self.plan.restart_at_s, self.svc.redis
        if at is None or local is None:
            return
        await asyncio.sleep(at)  # the outage is scheduled into the run's timeline
        self.marks.append((time.time(), "redis-server stopped"))
        await asyncio.to_thread(local.stop)
        await asyncio.sleep(OUTAGE_S)  # keep it down for a while, as a real restart would
        # On the main thread: a child started from a worker thread gets SIGTERM when that
        # thread ends (PR_SET_PDEATHSIG is per thread). Blocks the loop ~0.1 s while it boots.
        local.start()
        self.marks.append((time.time(), "redis-server back"))

    async def _report(self) -> LoadReport:
        prefix = self.settings["redis"]["sse_prefix"]
        streams = await read_streams(self.svc.redis_url, prefix, cluster=self.svc.redis_cluster)
        dlq = await read_topic(self.svc.kafka_bootstrap, f"{self.topic}.dlq")
        records = self.tally.records[: len(self.sent)]
        redis_check = verify(records, streams, dlq)
        ignored = sum(
            int(e.get("ignored") or 0)
            for e in self.bridge.log_entries()
            if e.get("message") == "batch"
        )
        cfg = self.plan.traffic
        settings = {
            "duration_s": cfg.duration_s,
            "rate": cfg.rate,
            "users": cfg.users,
            "bad_ratio": cfg.bad_ratio,
            "seed": cfg.seed,
            "policy": self.plan.policy,
            "restart_at_s": self.plan.restart_at_s,
            "kafka": self.svc.kafka_source,
            "redis": self.svc.redis_source,
            "topology": self.svc.topology,
        }
        sent_at = {eid: at for eid, at in self.sent if eid}
        received = {f.user: f.received for f in self.followers}
        report = build_report(
            records,
            sent_at,
            received,
            redis_check,
            ignored=ignored,
            reconnects=sum(max(f.connects - 1, 0) for f in self.followers),
            resets=sum(f.resets for f in self.followers),
            settings=settings,
        )
        if self.plan.png is not None:
            from simulator.load_plot import plot_run  # noqa: PLC0415 - matplotlib loads slowly

            plot_run(self.plan.png, report, sent_at, received, marks=self.marks)
        return report


def run_load(args: argparse.Namespace) -> int:
    """The `load` command; exit status 1 when anything was lost, duplicated or reordered."""
    plan = plan_from(args)
    with contextlib.ExitStack() as stack:
        workdir = plan.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-load-"))
        )
        svc = stack.enter_context(services(workdir / "services"))
        if plan.restart_at_s is not None and svc.redis is None:
            print("--restart-redis-at needs a local redis-server (unset REDIS_URL, no Docker)")
            return 2
        report = LoadRun(plan, svc, workdir).run()
    print(report.text())
    if plan.json is not None:
        plan.json.write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    if plan.png is not None:
        print(f"plot: {plan.png}")
    clean = not (report.lost or report.duplicated or report.out_of_order or report.misrouted)
    return 0 if clean else 1


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--restart-redis-at", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--policy", choices=("pause", "drop"), default="pause")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--cool-down", type=float, default=5.0, help="breaker cool-down (s)")
    parser.add_argument("--settle", type=float, default=120.0, help="max wait after traffic (s)")
    parser.add_argument("--report", type=Path, default=Path("docs/load-report.png"))
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    add_python_argument(parser)


def add_python_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--eventbridge-python",
        default=None,
        metavar="PYTHON",
        help="run the bridge and gateway with this interpreter (e.g. another checkout's "
        ".venv/bin/python), to measure another version in the same run",
    )
