"""`soak-env`: start and stop `python -m simulator env` N times; prove nothing is left behind."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from simulator.kafka_metadata import metadata
from simulator.kafka_ready import READY_TOPIC
from simulator.ports import bindable
from simulator.processes import PortInUse, spawn, stop, wait_until
from simulator.proctree import Proc, descendants, everyone, listening_ports
from simulator.services import TOPOLOGIES
from simulator.soak_suite import add_suite_command

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# When an early signal may come: within about how long each topology takes to start.
_START_WINDOW_S = {"single": 4.5, "replica": 4.5, "cluster": 15.0}


class CycleFailed(Exception):
    """One cycle went wrong; `cause` is short and stable, so causes can be counted."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.detail = detail


@dataclass
class Cycle:
    n: int
    signal: str
    cause: str | None = None  # None: passed
    detail: str = ""
    start_s: float = 0.0
    stop_s: float = 0.0
    total_s: float = 0.0
    children: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


def _kafka_serves(bootstrap: str, *, brokers: int) -> bool:
    # Metadata only (the env's own readiness already wrote and committed): is it still there?
    found = metadata(bootstrap, [READY_TOPIC], timeout_s=15)
    return found is not None and len(found[0]) == brokers and bool(found[1])


def _redis_serves(url: str, pids: set[int], *, cluster: bool) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        if client.info().get("process_id") not in pids:
            return False
        # A cluster node answers INFO even while the cluster is down: ask the cluster too.
        return not cluster or client.execute_command("CLUSTER", "INFO").startswith(
            b"cluster_state:ok"
        )
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


_NOT_OURS = ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "EVENTBRIDGE__REDIS__CLUSTER")


def _spawn_env(workdir: Path, topology: str) -> subprocess.Popen[bytes]:
    # What `python -m simulator env` starts by itself: never someone else's Kafka or Redis.
    env = {k: v for k, v in os.environ.items() if k not in _NOT_OURS}
    # Its temporary directories go here, so the check can see that none was left behind.
    (workdir / "tmp").mkdir()
    env["TMPDIR"] = str(workdir / "tmp")
    argv = [sys.executable, "-m", "simulator", "env", "--ready-file", str(workdir / "ready.json")]
    argv += ["--topology", topology]
    return spawn(argv, log=workdir / "env.log", env=env)


def _start(
    cycle: Cycle, workdir: Path, timeout_s: float, topology: str
) -> tuple[subprocess.Popen[bytes], Any]:
    ready, log = workdir / "ready.json", workdir / "env.log"
    proc = _spawn_env(workdir, topology)
    began = time.monotonic()
    try:
        wait_until(ready.exists, timeout_s=timeout_s, what="simulator env", proc=proc, log=log)
    except PortInUse as exc:
        raise CycleFailed("start: port in use", str(exc)) from None
    except RuntimeError as exc:
        text = str(exc)
        cause = "start: StorageTool format" if "StorageTool" in text else "start: exited"
        raise CycleFailed(cause, text[-1500:]) from None
    except TimeoutError:
        stop(proc)
        raise CycleFailed(f"start: not ready in {timeout_s:.0f}s", _tail(log)) from None
    cycle.start_s = time.monotonic() - began
    return proc, orjson.loads(ready.read_bytes())


def _tail(log: Path, n: int = 1500) -> str:
    return log.read_text(errors="replace")[-n:] if log.exists() else ""


def _check_serving(info: Any, tree: list[Proc]) -> None:
    if info["kafka_source"] != "local" or info["redis_source"] != "local":
        raise CycleFailed("not local", f"kafka={info['kafka_source']} redis={info['redis_source']}")
    pids = {p.pid for p in tree}
    expected = {"single": (1, 1), "replica": (1, 2), "cluster": (3, 6)}[info["topology"]]
    kafka, redis_pids = set(info["kafka_pids"]), set(info["redis_pids"])
    if (len(kafka), len(redis_pids)) != expected or not kafka | redis_pids <= pids:
        raise CycleFailed("children missing", f"tree={[(p.pid, p.name) for p in tree]}")
    if not _redis_serves(info["redis_url"], pids, cluster=info["redis_cluster"]):
        raise CycleFailed("not serving: redis")
    if not _kafka_serves(info["kafka_bootstrap"], brokers=expected[0]):
        raise CycleFailed("not serving: kafka")


def _watch_exit(proc: subprocess.Popen[bytes], seen: dict[Proc, None], timeout_s: float) -> int:
    """Wait for `proc` to exit, noting every descendant it has meanwhile (even one it
    starts while stopping), so that nothing it started can escape the leftover check."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if time.monotonic() > deadline:
            stop(proc, grace_s=1)
            raise CycleFailed(f"stop: did not exit in {timeout_s:.0f}s")
        seen.update(dict.fromkeys(descendants(proc.pid)))
        time.sleep(0.05)  # polling another process's exit with a deadline
    return proc.returncode


def stop_and_check(
    cycle: Cycle,
    proc: subprocess.Popen[bytes],
    workdir: Path,
    tree: list[Proc],
    sig: int,
    *,
    early: bool = False,
) -> None:
    """Signal `proc` (env) alone, wait for it, then fail with a cause if it exited badly or
    left a process alive, a port held by one, or a temporary file behind."""
    ports = listening_ports(tree)
    cycle.ports = sorted(ports)
    seen = dict.fromkeys(tree)
    began = time.monotonic()
    os.kill(proc.pid, sig)  # the env process alone, as a supervisor or `kill` would
    code = _watch_exit(proc, seen, timeout_s=90)
    cycle.stop_s = time.monotonic() - began
    log = _tail(workdir / "env.log")
    # A signal that lands before `env` installed its handlers (still importing) ends it the
    # default way; that is fine as long as it left nothing behind, which is checked below.
    default_death = code == -sig or (code == 1 and "KeyboardInterrupt" in log)
    if code != 0 and not (early and default_death):
        raise CycleFailed(f"stop: exit code {code}", log)
    # Exited means cleaned up: whatever is still alive now was left behind.
    cycle.children = sorted(p.name for p in seen)
    left = [p for p in seen if p.alive()]
    if left:
        for p in left:
            os.kill(p.pid, signal.SIGKILL)
        raise CycleFailed("left running: " + ",".join(sorted({p.name for p in left})))
    bound = [port for port in ports if not bindable(port)]
    if bound:
        # Nothing of ours is alive, so whoever listens there now took the port afterwards.
        holders = listening_ports(everyone())
        ours = {port: holders[port] for port in bound if holders.get(port) in seen}
        if ours:
            raise CycleFailed("port still bound", f"ports {ours}")
    left_files = sorted(p.name for p in (workdir / "tmp").iterdir())
    if left_files:
        raise CycleFailed("temporary files left behind", f"{left_files}")


def run_cycle(
    n: int,
    root: Path,
    timeout_s: float,
    *,
    early: bool = False,
    sig: signal.Signals | None = None,
    topology: str = "single",
) -> Cycle:
    """Start env, check it serves, stop it with SIGTERM or SIGINT, check nothing is left.

    `early`: the signal comes at a random moment while it is still starting instead."""
    if sig is None:
        sig = _SIGNALS[(n // 2) % 2]  # TERM, INT, INT, TERM, ...: each kind of cycle gets both
    cycle = Cycle(n=n, signal=sig.name + ("@start" if early else ""))
    workdir = root / f"cycle-{n:04d}"
    workdir.mkdir(parents=True)
    began = time.monotonic()
    try:
        if early:
            proc = _spawn_env(workdir, topology)
            cycle.start_s = random.uniform(0.3, _START_WINDOW_S[topology])
            time.sleep(cycle.start_s)  # the moment to interrupt: not a wait
            stop_and_check(cycle, proc, workdir, descendants(proc.pid), sig, early=True)
        else:
            proc, info = _start(cycle, workdir, timeout_s, topology)
            try:
                tree = descendants(proc.pid)
                _check_serving(info, tree)
            except CycleFailed:
                stop(proc)
                raise
            stop_and_check(cycle, proc, workdir, tree, sig)
    except CycleFailed as failed:
        cycle.cause, cycle.detail = failed.cause, failed.detail
    cycle.total_s = time.monotonic() - began
    if cycle.cause is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return cycle


def _line(c: Cycle, times: int) -> str:
    head = f"cycle {c.n}/{times} {c.signal:<13}"
    began = "signal at" if c.signal.endswith("@start") else "start"
    timing = f"{began} {c.start_s:5.1f}s  stop {c.stop_s:4.1f}s  total {c.total_s:5.1f}s"
    if c.cause is None:
        return f"{head} ok    {timing}  children={'+'.join(c.children)} ports={c.ports}"
    return f"{head} FAIL  {timing}  {c.cause}"


def summary(cycles: list[Cycle], root: Path) -> str:
    failed = [c for c in cycles if c.cause is not None]
    totals = [c.total_s for c in cycles]
    full = [c for c in cycles if not c.signal.endswith("@start")] or cycles
    early = sum(c.signal.endswith("@start") for c in cycles)
    lines = [
        f"soak-env: {len(cycles)} cycles ({early} stopped while starting), "
        f"{len(cycles) - len(failed)} passed, {len(failed)} failed",
        f"  time per cycle: mean {statistics.fmean(totals):.1f}s, "
        f"median {statistics.median(totals):.1f}s, max {max(totals):.1f}s "
        f"(start mean {statistics.fmean(c.start_s for c in full):.1f}s, "
        f"stop mean {statistics.fmean(c.stop_s for c in cycles):.1f}s)",
    ]
    causes = Counter(c.cause for c in failed)
    lines.append("  failures by cause: " + ("none" if not causes else ""))
    for cause, count in causes.most_common():
        which = [c.n for c in failed if c.cause == cause]
        lines.append(f"    {count} x {cause}  (cycles {which})")
    for c in failed:
        lines.append(f"  cycle {c.n}: {c.cause}; logs in {root / f'cycle-{c.n:04d}'}")
        if c.detail:
            lines.append("    " + c.detail.strip().replace("\n", "\n    ")[-1200:])
    return "\n".join(lines)


def soak_env(args: argparse.Namespace) -> int:
    """The `soak-env` command: exit status 0 only when every cycle passed."""
    root = Path(tempfile.mkdtemp(prefix="eventbridge-soak-env-"))
    cycles: list[Cycle] = []
    for n in range(1, args.times + 1):
        early = args.stop_while_starting > 0 and n % args.stop_while_starting == 0
        cycle = run_cycle(n, root, args.timeout, early=early, topology=args.topology)
        cycles.append(cycle)
        print(_line(cycle, args.times), flush=True)
    print(summary(cycles, root), flush=True)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps([vars(c) for c in cycles], option=orjson.OPT_INDENT_2))
    if all(c.cause is None for c in cycles):
        shutil.rmtree(root, ignore_errors=True)
        return 0
    return 1


def add_soak_commands(sub: Any) -> None:
    env = sub.add_parser("soak-env", help="start and stop `env` N times; check nothing is left")
    env.add_argument("--times", type=int, default=20)
    env.add_argument("--timeout", type=float, default=180.0, help="max seconds to start")
    env.add_argument(
        "--stop-while-starting",
        type=int,
        default=0,
        metavar="K",
        help="every K-th cycle is signalled at a random moment of its startup instead",
    )
    env.add_argument("--json", type=Path, default=None, help="also write every cycle as JSON")
    env.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default="single",
        help="what each cycle's `env --topology` starts",
    )
    env.set_defaults(run=soak_env)
    add_suite_command(sub)
