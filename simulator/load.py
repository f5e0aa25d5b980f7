"""`python -m simulator load`: Kafka, Redis, bridge and gateway processes, browsers, a report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import secrets
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import orjson

from simulator.load_costs import CpuMeter, children, stream_bytes_per_entry
from simulator.load_faults import Injector, needs, traffic_end
from simulator.load_fleet import Fleet, process_settings, running
from simulator.load_plan import LoadPlan, add_load_arguments, add_python_argument, plan_from
from simulator.load_procs import ServiceProcess
from simulator.load_recovery import partitions_of, recoveries
from simulator.load_report import LoadReport, build_report
from simulator.load_sse import Follower, Receipt, mint_token
from simulator.loop_lag import LoopLag, cyclic_gc_paused
from simulator.services import Services, services, topology_from_env
from simulator.topics import create_topics_async
from simulator.traffic import Tally, produce_traffic
from simulator.verify import group_backlog, read_streams, read_topic, verify

__all__ = [
    "LoadPlan",
    "LoadRun",
    "add_load_arguments",
    "add_python_argument",
    "process_settings",
    "run_load",
    "running",
]

OUTAGE_S = 2.0  # how long redis-server stays down when --restart-redis-at is given


class LoadRun:
    """One run: its processes, its browsers, the traffic it produced and what arrived."""

    def __init__(self, plan: LoadPlan, svc: Services, workdir: Path) -> None:
        self.plan = plan
        self.svc = svc
        self.unique = secrets.token_hex(4)
        self.secret = secrets.token_urlsafe(32)
        self.settings = process_settings(svc, self.unique, port=0, secret=self.secret)
        self.settings["circuit_breaker"] = {"policy": plan.policy, "cool_down_s": plan.cool_down_s}
        self.topic = self.settings["kafka"]["topic"]
        self.fleet = Fleet(
            self.settings, workdir, bridges=plan.bridges, gateways=plan.gateways, python=plan.python
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
        prefix = self.settings["redis"]["sse_prefix"]
        self.injector = Injector(
            svc,
            self.fleet,
            topic=self.topic,
            stream_key=lambda user: f"{prefix}{{{user}}}:stream",
            followers=self.followers,
            down_s=plan.down_s,
            marks=self.marks,
        )
        self.t0 = 0.0  # wall clock when the traffic started
        self.traffic_s = 0.0  # how long it ran: longer than planned when faults ran late
        self.cpu = CpuMeter(self._roles)

    @property
    def base_url(self) -> str:
        return self.fleet.base_url

    @property
    def bridge(self) -> ServiceProcess:
        return self.fleet.bridges[0]

    def _roles(self) -> dict[str, list[int]]:
        """The PIDs of every process of the run, by role, as they are now."""
        local = self.svc.local_pids()
        master = self.fleet.balancer.pid if self.fleet.balancer is not None else None
        return {
            **local,
            "bridge": [b.pid for b in self.fleet.bridges if b.pid is not None],
            "gateway": [g.pid for g in self.fleet.gateways if g.pid is not None],
            "nginx": [master, *children(master)] if master else [],
            "runner": [os.getpid()],
        }

    def _took(self, receipt: Receipt) -> None:
        self.got.add(receipt.event_id)

    def run(self) -> LoadReport:
        topics = {self.topic: self.plan.partitions}
        asyncio.run(create_topics_async(self.svc.kafka_bootstrap, topics))
        try:
            self.fleet.start()
            with cyclic_gc_paused():  # its full collections stalled the runner, not the product
                asyncio.run(self._drive())
            self.metrics = self._scrape()
        finally:
            self.fleet.stop()
        return asyncio.run(self._report())

    def _scrape(self) -> dict[str, str]:
        """The first bridge's and gateway's /metrics, as they stand ("" when not served)."""
        port = (self.bridge.last_logged("bridge http listening") or {}).get("port")
        urls = {"gateway": f"{self.fleet.gateway_url(0)}/metrics"}
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
                await self._until(lambda: all(f.connects for f in self.followers), 30)
                outage = asyncio.create_task(self._outage())
                watching = asyncio.create_task(self.loop_lag.watch(produced))
                self.t0 = time.time()
                faulting = asyncio.create_task(self.injector.run(self.plan.faults, self.t0))
                metering = asyncio.create_task(self.cpu.watch(produced))
                traffic, enough = self.plan.traffic, asyncio.Event()
                if self.plan.faults:  # stopped by `enough`, however late the faults ran
                    traffic = dataclasses.replace(traffic, duration_s=math.inf)
                    ending = asyncio.create_task(self._end_traffic(faulting, enough))
                await produce_traffic(
                    self.svc.kafka_bootstrap,
                    self.topic,
                    traffic,
                    partitions=self.plan.partitions,
                    stop=enough,
                    tally=self.tally,
                    sent=self.sent,
                    acked=self.acked,
                )
                self.traffic_s = time.time() - self.t0
                produced.set()
                if self.plan.faults:
                    await ending
                await asyncio.gather(outage, watching, faulting, metering)
                expected = {
                    r.expect.event_id
                    for r in self.tally.records
                    if r.expect.outcome == "delivered" and r.expect.event_id
                }
                settle = self.plan.settle_s
                with contextlib.suppress(TimeoutError):
                    await self._until(lambda: expected <= self.got, settle)
                with contextlib.suppress(TimeoutError):
                    await self._until_committed(settle)
            finally:
                produced.set()
                stop.set()
                await asyncio.gather(*browsing, return_exceptions=True)

    async def _end_traffic(self, faulting: asyncio.Task[None], enough: asyncio.Event) -> None:
        """Stop the traffic once the fault schedule is over (`traffic_end`)."""
        try:
            await asyncio.wait({faulting})
            planned, records = self.plan.traffic.duration_s, self.injector.records
            end = traffic_end(self.t0, planned, self.plan.faults, records)
            await asyncio.sleep(max(end - time.time(), 0.0))  # the traffic's own end
        finally:
            enough.set()

    async def _until(self, done: Any, timeout_s: float) -> None:
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

    def _settings(self) -> dict[str, Any]:
        cfg, plan = self.plan.traffic, self.plan
        return {
            "duration_s": cfg.duration_s,
            "traffic_s": round(self.traffic_s, 1),
            "rate": cfg.rate,
            "users": cfg.users,
            "bad_ratio": cfg.bad_ratio,
            "seed": cfg.seed,
            "policy": plan.policy,
            "restart_at_s": plan.restart_at_s,
            "kafka": self.svc.kafka_source,
            "redis": self.svc.redis_source,
            "topology": self.svc.topology,
            "bridges": plan.bridges,
            "gateways": plan.gateways,
            "balanced": self.fleet.balancer is not None,
            "faults": [f"{f.kind}@{f.at_s:g}" for f in plan.faults],
            "fault_down_s": plan.down_s,
            "fault_errors": list(self.injector.errors),
        }

    async def _report(self) -> LoadReport:
        prefix = self.settings["redis"]["sse_prefix"]
        streams = await read_streams(self.svc.redis_url, prefix, cluster=self.svc.redis_cluster)
        dlq = await read_topic(self.svc.kafka_bootstrap, f"{self.topic}.dlq")
        records = self.tally.records[: len(self.sent)]
        ignored = sum(
            int(e.get("ignored") or 0)
            for bridge in self.fleet.bridges
            for e in bridge.log_entries()
            if e.get("message") == "batch"
        )
        sent_at = {eid: at for eid, at in self.sent if eid}
        received = {f.user: f.received for f in self.followers}
        report = build_report(
            records,
            sent_at,
            received,
            verify(records, streams, dlq),
            ignored=ignored,
            reconnects=sum(max(f.connects - 1, 0) for f in self.followers),
            resets=sum(f.resets for f in self.followers),
            settings=self._settings(),
        )
        where = partitions_of(records, self.plan.partitions)
        found = recoveries(self.injector.records, received, sent_at, where, self.t0)
        report.faults = [asdict(r) for r in found]
        report.stream_bytes_per_entry = await stream_bytes_per_entry(
            self.svc.redis_url, prefix, list(received), cluster=self.svc.redis_cluster
        )
        report.cpu_us_per_event = {
            role: round(used / max(len(records), 1) * 1e6, 1)
            for role, used in sorted(self.cpu.used().items())
        }
        if self.plan.png is not None:
            from simulator.load_plot import plot_run  # noqa: PLC0415 - matplotlib loads slowly

            spans = [
                (f.at, f.at + r.resumed_s)
                for f, r in zip(self.injector.records, found, strict=True)
                if r.resumed_s is not None
            ]
            plot_run(self.plan.png, report, sent_at, received, marks=self.marks, spans=spans)
        return report


def run_load(args: argparse.Namespace) -> int:
    """The `load` command; exit status 1 when anything was lost, duplicated, reordered or
    misrouted, or a fault of the schedule could not be injected."""
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-load-"))
        )
        topology = args.topology or topology_from_env()
        svc = stack.enter_context(services(workdir / "services", topology=topology))
        plan = plan_from(args, topology=svc.topology)
        if plan.restart_at_s is not None and svc.redis is None:
            print("--restart-redis-at needs a local redis-server (unset REDIS_URL, no Docker)")
            return 2
        problem = needs(plan.faults, svc)
        if problem is not None:
            print(problem)
            return 2
        report = LoadRun(plan, svc, workdir).run()
    print(report.text())
    if plan.json is not None:
        plan.json.write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    if plan.png is not None:
        print(f"plot: {plan.png}")
    return 0 if clean(report) else 1


def clean(report: LoadReport) -> bool:
    """Nothing lost, duplicated, reordered or misrouted, and every fault injected."""
    broken = report.lost or report.duplicated or report.out_of_order or report.misrouted
    return not broken and not report.settings.get("fault_errors")
