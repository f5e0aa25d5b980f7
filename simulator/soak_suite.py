"""`soak-suite`: run the whole suite K times, each from a clean clone, and tally what failed.

Stopping it (Ctrl-C, SIGINT or SIGTERM): the signal handler only records the request; the
loop acts on it at the points where it waits. The run in progress gets one SIGINT to its
process group, as a Ctrl-C would give it, so pytest stops its services and tears down; after
`_STOP_GRACE_S` the group is SIGKILLed, and whatever is left of the group after the run ended
is too. That run is not counted. soak-suite prints the summary of the runs that ended, then
dies by the signal it got, so a calling script stops too.

Each run is a session of its own (`processes.spawn`): a terminal's Ctrl-C reaches it only
through us, once, and it has no terminal to read from (a prompt fails instead of hanging), as
in CI. It starts with SIGINT at its default. Before, soak-suite started in the background by a
non-interactive shell (`nohup ... &`) inherited SIGINT ignored and passed that on: no SIGINT
could stop its pytest (seen: interrupted runs went on for minutes, starting redis-servers).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from simulator.processes import die_with_us, exited, spawn, stop

_REPO = Path(__file__).resolve().parent.parent
# How long an interrupted run gets to stop its services and write its report.
_STOP_GRACE_S = 60.0
_POLL_S = 0.2  # how often a waiting soak looks at a stop request
_STOPS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Run:
    n: int
    code: int = 0
    seconds: float = 0.0
    passed: int = 0
    failed: list[str] = field(default_factory=list)  # test ids that failed or errored
    skipped: int = 0
    workdir: Path = Path()

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.failed


class StopRequest:
    """The first SIGINT or SIGTERM we got (later ones change nothing): a signal handler that
    only records, so no exception is raised into whatever code the signal interrupts."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)


@contextlib.contextmanager
def stoppable() -> Iterator[StopRequest]:
    """Record SIGINT and SIGTERM while inside, also where SIGINT came inherited as ignored (a
    background start): a soak must stop cleanly however it is stopped."""
    request = StopRequest()
    before = {sig: signal.signal(sig, request) for sig in _STOPS}
    try:
        yield request
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def read_junit(path: Path, run: Run) -> None:
    """Add what a JUnit XML report says to `run`: passed and skipped counts, failed test ids."""
    if not path.exists():
        return
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            run.failed.append(name)
        elif case.find("skipped") is not None:
            run.skipped += 1
        else:
            run.passed += 1


def _git(*args: str) -> None:
    # A session of its own: a Ctrl-C meant for the soak must not fail the clone half-way (the
    # stop request is acted on once it is done); tied to us, so it cannot outlive us.
    subprocess.run(
        ["git", *args],
        check=True,
        start_new_session=True,
        preexec_fn=die_with_us(),
    )


def _clone(workdir: Path, ref: str) -> Path:
    clone = workdir / _REPO.name
    _git("clone", "--quiet", str(_REPO), str(clone))
    _git("-C", str(clone), "checkout", "--quiet", ref)
    shared = _REPO.parent / "shared"
    if shared.is_dir():  # the lead's shared notes sit beside every worktree; mirror that
        shutil.copytree(shared, workdir / "shared", symlinks=True)
    return clone


def run_once(
    n: int, root: Path, ref: str, marker: str | None, request: StopRequest | None = None
) -> Run | None:
    """Clone `ref`, run `.ci/run` (or `make setup` + pytest -m `marker`) with CI=true; None if
    a stop was requested before it ended (then it was stopped, see the module's docstring)."""
    run = Run(n=n, workdir=root / f"run-{n:03d}")
    run.workdir.mkdir(parents=True)
    began = time.monotonic()
    clone = _clone(run.workdir, ref)
    junit = run.workdir / "junit.xml"
    env = {**os.environ, "CI": "true", "PYTEST_ADDOPTS": f"--junitxml={junit}"}
    # Downloaded jars are shared (a clean clone would fetch Kafka from Maven Central each time).
    env.setdefault("EVENTBRIDGE_CACHE_DIR", str(_REPO / ".cache"))
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"):  # the suite starts its own
        env.pop(var, None)
    if marker is None:
        command = ["bash", ".ci/run"]
    else:
        command = ["bash", "-c", 'make setup && .venv/bin/pytest -m "$0"', marker]
    code = run_until_stopped(
        command, cwd=clone, env=env, log=run.workdir / "output.log", request=request
    )
    if code is None:
        return None
    run.code = code
    run.seconds = time.monotonic() - began
    read_junit(junit, run)
    return run


def run_until_stopped(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    request: StopRequest | None,
) -> int | None:
    """Run `command` in a session of its own, output to `log`; its exit status, or None if
    `request` came first: then its group got SIGINT, `_STOP_GRACE_S` to end, and SIGKILL."""
    if request is not None and request.signal is not None:
        return None
    proc = spawn(command, log=log, cwd=cwd, env=env)
    while not exited(proc.pid):  # not reaped: its group id stays its own until stop()
        if request is not None and request.signal is not None:
            stop(proc, grace_s=_STOP_GRACE_S, sig=signal.SIGINT)
            return None
        time.sleep(_POLL_S)  # polling a child's exit and a stop request
    stop(proc, grace_s=0)  # it has ended: SIGKILL what it left in its group, and reap it
    return proc.returncode


def _stopped(request: StopRequest, workdir: Path, n: int) -> str:
    name = request.signal.name if request.signal is not None else "stop"
    log = workdir / "output.log"
    if log.exists():
        return f"{name}: stopped run {n}, not counted (its output: {log})"
    return f"{name}: stopped before run {n} started"


def _die_by(sig: signal.Signals) -> int:
    """End as the signal would have ended us, so a shell running us stops too (it stops a
    script only for a child that died by SIGINT, not for an exit status)."""
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    return 128 + sig  # not reached


def _line(r: Run, times: int) -> str:
    verdict = "PASS" if r.ok else "FAIL"
    counts = f"{r.passed} passed, {len(r.failed)} failed, {r.skipped} skipped"
    tail = "" if r.ok else f"  exit {r.code}; {', '.join(r.failed) or 'see output.log'}"
    return f"run {r.n}/{times} {verdict} {r.seconds:6.0f}s  ({counts}){tail}"


def summary(runs: list[Run]) -> str:
    bad = [r for r in runs if not r.ok]
    lines = [
        f"soak-suite: {len(runs)} runs, {len(runs) - len(bad)} passed, {len(bad)} failed; "
        f"mean {sum(r.seconds for r in runs) / len(runs):.0f}s per run"
    ]
    tests = Counter(name for r in bad for name in set(r.failed))
    for name, count in tests.most_common():
        lines.append(f"  {count} x {name}")
    for r in bad:
        if not r.failed:
            lines.append(f"  run {r.n}: exit {r.code} before or outside pytest (lint, setup?)")
        lines.append(f"  run {r.n}: output in {r.workdir / 'output.log'}")
    return "\n".join(lines)


def soak_suite(args: argparse.Namespace) -> int:
    """The `soak-suite` command: exit status 0 only when every run passed."""
    root = Path(tempfile.mkdtemp(prefix="eventbridge-soak-suite-"))
    ref = subprocess.run(
        ["git", "-C", str(_REPO), "rev-parse", args.ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"soak-suite: {args.times} runs of {ref[:12]} in {root}", flush=True)
    runs: list[Run] = []
    with stoppable() as request:
        for n in range(1, args.times + 1):
            run = run_once(n, root, ref, args.marker, request)
            if run is None:
                print(f"soak-suite: {_stopped(request, root / f'run-{n:03d}', n)}", flush=True)
                break
            runs.append(run)
            print(_line(run, args.times), flush=True)
            if run.ok and not args.keep:
                shutil.rmtree(run.workdir, ignore_errors=True)
    if runs:
        print(summary(runs), flush=True)
    if request.signal is not None:
        if len(runs) == args.times:
            print(f"soak-suite: {request.signal.name} after the last run", flush=True)
        return _die_by(request.signal)
    if all(r.ok for r in runs):
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 0
    return 1


def add_suite_command(sub: Any) -> None:
    suite = sub.add_parser("soak-suite", help="run the suite K times from clean clones")
    suite.add_argument("--times", type=int, default=10)
    suite.add_argument("--ref", default="HEAD", help="the commit to test (committed code only)")
    suite.add_argument(
        "--marker", default=None, help='only these tiers, e.g. "integration or e2e" (no lint)'
    )
    suite.add_argument("--keep", action="store_true", help="keep passed runs' clones too")
    suite.set_defaults(run=soak_suite)
