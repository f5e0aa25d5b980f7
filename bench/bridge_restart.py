"""Bridge crash-to-delivery and rolling restarts, with and without static membership (issue 13).

Two `eventbridge bridge` processes (replicas 0 and 1 of one group) consume a 6-partition topic
while simulated traffic flows. Each mode then runs, with real processes:

  crash    SIGKILL one bridge and start it again at once (--crashes times, alternating);
  rolling  SIGTERM each bridge in turn and start it again once the other is delivering
           (--rollings times).

For every stop it reports `stop_s`, how long the old process took to go (SIGTERM: its drain),
then, from the moment the new process is spawned: `up_s`, its first
log line (Python started, settings read, HTTP port bound: before any Kafka client);
`first_s`, the first new event of the stopped bridge's partitions in Redis (Redis's own
clock: the stream id), and `all_s`, every one of them delivering again; then `paused_s`, the
longest silence of its partitions around the stop, and `others_paused_s`, of the other
bridge's (a rebalance stops those too); and at the end lost / duplicated / out of order over
the whole run (all must be 0). Modes (`--modes`, default `dynamic,static`): `dynamic` (no
group.instance.id, the 10 s session of before), `static` (the defaults: group.instance.id per
replica, 30 s session, SIGTERM keeps the membership) and `static-leave` (static, with
kafka.leave_group_on_shutdown: SIGTERM leaves the group).

Run: `.venv/bin/python -m bench.bridge_restart [--crashes 5] [--rollings 3] [--rate 300]
[--modes dynamic,static] [--json out.json]` (`EVENTBRIDGE_TOPOLOGY=cluster`: on 3 brokers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.restart_gaps import Episode, Outcome, outcome, steady_gap, write_times
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis_model import TrafficConfig
from simulator.produce import produce_paced
from simulator.services import Services, services
from simulator.topics import create_topics_async
from simulator.traffic import Tally
from simulator.verify import group_backlog, read_streams, read_topic, verify

PARTITIONS = 6
MODES = {
    "dynamic": {"group_instance_id": "none"},
    "static": {},  # the defaults: an instance id per host and replica, a 30 s session
    # Static, but SIGTERM leaves the group (what a scale-down wants): a rolling restart then
    # moves the partitions at once, and back when the bridge rejoins.
    "static-leave": {"leave_group_on_shutdown": True},
}
STEADY_S = 4.0  # delivering undisturbed between two stops: the noise floor is measured here


class Watched:
    """A bridge process and what its log has said so far, read on from where the last look
    stopped (re-reading whole logs 20 times a second would load this process, the one that
    also produces the traffic)."""

    def __init__(self, process: EventBridgeProcess) -> None:
        self.process = process
        self.joins: list[dict[str, Any]] = []  # its "kafka group joined" lines
        self.delivering = False  # a batch with events published to Redis
        self.up_at: float | None = None  # its first line, wall clock: Python is up
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        try:
            with self.process.log.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b"{"):
                with contextlib.suppress(orjson.JSONDecodeError):
                    self._seen(orjson.loads(line))

    def _seen(self, entry: dict[str, Any]) -> None:
        if self.up_at is None:
            self.up_at = datetime.fromisoformat(str(entry["timestamp"])).timestamp()
        message = entry.get("message")
        if message == "kafka group joined":
            self.joins.append(entry)
        elif message == "batch" and int(entry.get("published") or 0) > 0:
            self.delivering = True


class Run:
    """One mode: its topic, group, key prefix, the two replicas, the traffic and the stops."""

    def __init__(self, svc: Services, mode: str, workdir: Path, args: argparse.Namespace) -> None:
        self.svc, self.mode, self.workdir, self.args = svc, mode, workdir, args
        unique = uuid.uuid4().hex[:8]
        self.topic, self.group = f"restart-{unique}", f"eb-restart-{unique}"
        self.kafka = {
            "bootstrap_servers": svc.kafka_bootstrap,
            "topic": self.topic,
            "group_id": self.group,
            **MODES[mode],
        }
        self.redis = {
            "url": svc.redis_url,
            "cluster": svc.redis_cluster,
            "sse_prefix": f"{unique}:user:",
            "session_prefix": f"{unique}:session:",
        }
        self.starts = 0
        self.bridges: dict[int, Watched] = {}
        self.episodes: list[Episode] = []
        self.tally = Tally()
        self.load: list[float] = []  # 1-minute load average at the start and before the end

    def _bridge(self, replica: int) -> Watched:
        self.starts += 1
        settings = {
            "kafka": {**self.kafka, "instance_ordinal": replica},
            "redis": self.redis,
            "bridge": {"http_port": 0},
        }
        log = self.workdir / f"{self.mode}-bridge-{replica}-{self.starts}.log"
        log.unlink(missing_ok=True)  # a kept --workdir: an old run's lines are not this one's
        process = EventBridgeProcess("bridge", settings, log)
        process.start()
        bridge = self.bridges[replica] = Watched(process)
        return bridge

    async def _until(self, what: str, done: Any, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            for bridge in self.bridges.values():
                bridge.poll()
            if done():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.mode}: {what}")
            dead = [b.process.log for b in self.bridges.values() if not b.process.running]
            if dead:
                raise RuntimeError(f"{self.mode}: a bridge exited: {dead[0]}")
            await asyncio.sleep(0.05)  # polling child processes' logs with a deadline

    def _one_generation(self) -> bool:
        last = [b.joins for b in self.bridges.values()]
        return all(last) and len({j[-1]["generation"] for j in last}) == 1

    async def _settled(self) -> None:
        await self._until("both bridges in one generation", self._one_generation)
        await self._until(
            "both bridges delivering", lambda: all(b.delivering for b in self.bridges.values())
        )
        await asyncio.sleep(STEADY_S)  # undisturbed delivery before the next stop

    async def _stop_and_start(self, kind: str, replica: int) -> None:
        old, other = self.bridges[replica], self.bridges[1 - replica]
        held = tuple(old.joins[-1]["partitions"])
        others = tuple(other.joins[-1]["partitions"])
        stopped = time.time()
        # In a thread: waiting for the drain here would stop this loop, and the traffic with it.
        await asyncio.to_thread(old.process.kill if kind == "crash" else old.process.terminate)
        restarted = time.time()
        new = self._bridge(replica)
        await self._until("the restarted bridge to deliver", lambda: new.delivering)
        await self._settled()
        self.episodes.append(Episode(kind, replica, stopped, restarted, new.up_at, held, others))

    async def run(self) -> dict[str, Any]:
        await create_topics_async(self.svc.kafka_bootstrap, {self.topic: PARTITIONS})
        stop = asyncio.Event()
        config = TrafficConfig(
            seed=self.args.seed, users=self.args.users, rate=self.args.rate, duration_s=3600
        )
        producing = asyncio.create_task(
            produce_paced(
                self.svc.kafka_bootstrap,
                self.topic,
                self.tally.tee(config),
                stop=stop,
            )
        )
        self.load = [round(os.getloadavg()[0], 1)]
        try:
            self._bridge(0)
            await self._until("replica 0 to deliver", lambda: self.bridges[0].delivering)
            self._bridge(1)
            await self._settled()
            quiet = (time.time() - STEADY_S, time.time())
            for i in range(self.args.crashes):
                await self._stop_and_start("crash", i % 2)
            for _ in range(self.args.rollings):
                for replica in (0, 1):
                    await self._stop_and_start("rolling", replica)
            self.load.append(round(os.getloadavg()[0], 1))
            stop.set()
            produced = await producing
            await self._drained()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await producing
            for bridge in self.bridges.values():
                bridge.process.terminate()
        return await self._report(produced, quiet)

    async def _drained(self) -> None:
        deadline = time.monotonic() + 120
        while await group_backlog(self.svc.kafka_bootstrap, self.topic, self.group):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.mode}: the group never caught up")
            await asyncio.sleep(0.25)  # polling the group's commits with a deadline

    async def _report(self, produced: int, quiet: tuple[float, float]) -> dict[str, Any]:
        records = self.tally.records[:produced]
        streams = await read_streams(
            self.svc.redis_url, self.redis["sse_prefix"], cluster=self.svc.redis_cluster
        )
        dlq = await read_topic(self.svc.kafka_bootstrap, f"{self.topic}.dlq")
        checked = verify(records, streams, dlq)
        times = write_times(records, streams, PARTITIONS)
        nexts = [e.stopped_at for e in self.episodes[1:]] + [None]
        outcomes = [
            outcome(e, times, tail_s=STEADY_S, until=n)
            for e, n in zip(self.episodes, nexts, strict=True)
        ]
        return {
            "mode": self.mode,
            "load_average": self.load,
            "produced": produced,
            "delivered": checked.delivered,
            "lost": checked.lost,
            "duplicated": checked.duplicated,
            "out_of_order": checked.out_of_order,
            "steady_max_gap_s": steady_gap(times, *quiet),
            "stops": [_row(o) for o in outcomes],
        }


def _row(o: Outcome) -> dict[str, Any]:
    e = o.episode
    row = asdict(o)
    row.pop("episode")
    up = None if e.up_at is None else e.up_at - e.restarted_at
    stop = e.restarted_at - e.stopped_at  # SIGKILL: the kill; SIGTERM: the drain and exit
    return {"kind": e.kind, "replica": e.replica, "stop_s": stop, "up_s": up, **row}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _since_up(row: dict[str, Any]) -> float | None:
    """From the new process's first log line to its partitions' first new event: the part
    that membership decides (the rest is Python starting, which the machine's load decides)."""
    first, up = row["first_after_restart_s"], row["up_s"]
    if first is None or up is None or first < up:
        return None  # or its partitions resumed on the other bridge before it was up
    return float(first - up)


def _summary(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    return f"median {statistics.median(known):.2f} (min {min(known):.2f}, max {max(known):.2f})"


def text(report: dict[str, Any]) -> str:
    lines = [
        f"== {report['mode']}: produced {report['produced']}, delivered {report['delivered']}, "
        f"lost {report['lost']}, duplicated {report['duplicated']}, "
        f"out of order {report['out_of_order']}; longest silence of a partition while "
        f"undisturbed {_fmt(report['steady_max_gap_s'])} s; load average "
        f"{' -> '.join(map(str, report['load_average']))}",
        "kind     replica  stop_s  up_s  first_s  all_s  paused_s  others_paused_s",
    ]
    for r in report["stops"]:
        lines.append(
            f"{r['kind']:<8} {r['replica']:>7}  {_fmt(r['stop_s']):>6}  {_fmt(r['up_s']):>4}  "
            f"{_fmt(r['first_after_restart_s']):>7}  {_fmt(r['all_after_restart_s']):>5}  "
            f"{_fmt(r['paused_s']):>8}  {_fmt(r['others_paused_s']):>15}"
        )
    for kind in ("crash", "rolling"):
        rows = [r for r in report["stops"] if r["kind"] == kind]
        lines.append(
            f"{kind}: first new event after the restart "
            f"{_summary([r['first_after_restart_s'] for r in rows])}, after its Python was up "
            f"{_summary([_since_up(r) for r in rows])}; all its partitions "
            f"{_summary([r['all_after_restart_s'] for r in rows])}; its partitions silent "
            f"{_summary([r['paused_s'] for r in rows])}; the other bridge's "
            f"{_summary([r['others_paused_s'] for r in rows])}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--crashes", type=int, default=5)
    parser.add_argument("--rollings", type=int, default=3, help="rolling restarts of both")
    parser.add_argument("--rate", type=float, default=300.0, help="events per second")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--modes", default="dynamic,static")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the bridges' logs here")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="eb-restart-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        svc = stack.enter_context(services(workdir / "services"))
        reports = []
        for mode in args.modes.split(","):
            report = asyncio.run(Run(svc, mode, workdir, args).run())
            print(text(report), flush=True)
            reports.append(report)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(reports, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
