"""`soak-suite`: run the whole suite K times, each from a clean clone, and tally what failed."""

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

from simulator.processes import die_with_us

_REPO = Path(__file__).resolve().parent.parent
# How long an interrupted run gets to stop its services and write its report before it is
# SIGKILLed (its services then die with it: PR_SET_PDEATHSIG).
_STOP_GRACE_S = 60.0


class Interrupted(Exception):
    """soak-suite was asked to stop (SIGINT or SIGTERM); the run in progress was stopped."""


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


def _clone(workdir: Path, ref: str) -> Path:
    clone = workdir / _REPO.name
    subprocess.run(["git", "clone", "--quiet", str(_REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", ref], check=True)
    shared = _REPO.parent / "shared"
    if shared.is_dir():  # the lead's shared notes sit beside every worktree; mirror that
        shutil.copytree(shared, workdir / "shared", symlinks=True)
    return clone


def run_once(n: int, root: Path, ref: str, marker: str | None) -> Run:
    """Clone `ref`, run `.ci/run` (or `make setup` + pytest -m `marker`) with CI=true."""
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
    with (run.workdir / "output.log").open("wb") as out:
        run.code = run_interruptibly(command, cwd=clone, env=env, out=out)
    run.seconds = time.monotonic() - began
    read_junit(junit, run)
    return run


def run_interruptibly(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    out: Any,
    grace_s: float = _STOP_GRACE_S,
) -> int:
    """Run `command` to its end and return its exit status. If we are asked to stop meanwhile
    (`Interrupted`), the command's whole process group gets SIGINT, as a Ctrl-C would give it:
    pytest then stops its services and writes its report. After `grace_s` it is SIGKILLed.

    The command gets a process group of its own, so a terminal's Ctrl-C reaches it only through
    us, once. It starts with SIGINT at its default (`_stoppable` catches it here, and a caught
    signal is reset by exec; `die_with_us` resets it too and ties the command to us). Before,
    soak-suite started in the background by a non-interactive shell inherited SIGINT ignored and
    passed that on: no SIGINT could stop its pytest (seen: interrupted runs went on for minutes,
    starting redis-servers)."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        process_group=0,
        preexec_fn=die_with_us(),  # noqa: PLW1509 - no dlopen or locks in it
    )
    try:
        return proc.wait()
    except Interrupted:
        with _ignoring_stops():
            _signal_group(proc, signal.SIGINT)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        raise


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it (and its group) ended meanwhile
        os.killpg(proc.pid, sig)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def _stoppable() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` while inside, even where SIGINT was inherited
    ignored (a background start): a soak must stop cleanly however it is stopped."""
    before = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _ignoring_stops() -> Iterator[None]:
    """A second Ctrl-C while the interrupted run stops must not leave it running unwaited."""
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


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
    try:
        with _stoppable():
            for n in range(1, args.times + 1):
                run = run_once(n, root, ref, args.marker)
                runs.append(run)
                print(_line(run, args.times), flush=True)
                if run.ok and not args.keep:
                    shutil.rmtree(run.workdir, ignore_errors=True)
    except Interrupted as stop:
        n = len(runs) + 1
        print(
            f"soak-suite: {stop} during run {n}: stopped it, not counted "
            f"(its output: {root / f'run-{n:03d}' / 'output.log'})",
            flush=True,
        )
        if runs:
            print(summary(runs), flush=True)
        return 130
    print(summary(runs), flush=True)
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
