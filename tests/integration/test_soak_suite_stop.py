"""soak-suite stops cleanly however it is stopped: its run gets the SIGINT, nothing runs on.

The real `soak_suite` loop runs here over a fake clone: a Makefile whose `setup` does nothing
and a `.venv/bin/pytest` that stands in for the suite, so each run takes what the fake is told
to, not the suite's 20 minutes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.processes import wait_until

pytestmark = pytest.mark.timeout(90)

# The stand-in for pytest. Each run leaves a helper running in its group. Run 1 of a soak
# ends at once with FIRST_EXIT; later runs say when they are up and work until a signal.
FAKE_PYTEST = """
import os, signal, subprocess, sys, time
from pathlib import Path
marks = Path(os.environ["MARKS"])
runs = len(list(marks.glob("run-*")))
(marks / f"run-{runs + 1}").write_text(str(os.getpid()))
helper = subprocess.Popen(["sleep", "80"])  # same group: what it leaves behind
(marks / f"helper-{runs + 1}").write_text(str(helper.pid))
if runs == 0 and "FIRST_EXIT" in os.environ:
    sys.exit(int(os.environ["FIRST_EXIT"]))
if os.environ.get("IGNORE_SIGINT"):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    (marks / "up").write_text(str(os.getpid()))
    time.sleep(80)  # the run's work; only a signal ends it early
except KeyboardInterrupt:
    (marks / "interrupted").write_text("")
    sys.exit(2)
"""

# `python -m simulator soak-suite --marker integration`, with the clone replaced by the fake.
DRIVER = """
import argparse, shutil, sys
from pathlib import Path
import simulator.soak_suite as soak
fake, grace, times = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
def clone(workdir, ref):
    shutil.copytree(fake, workdir / "main", symlinks=True)
    return workdir / "main"
soak._clone, soak._STOP_GRACE_S = clone, grace
args = argparse.Namespace(times=times, ref="HEAD", marker="integration", keep=False)
sys.exit(soak.soak_suite(args))
"""


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Path]:
    clone = tmp_path / "fake-clone"
    (clone / ".venv" / "bin").mkdir(parents=True)
    (clone / "Makefile").write_text("setup:\n\t@true\n")
    pytest_ = clone / ".venv" / "bin" / "pytest"
    pytest_.write_text(f"#!{sys.executable}\n{textwrap.dedent(FAKE_PYTEST)}")
    pytest_.chmod(0o755)
    (tmp_path / "marks").mkdir()
    (tmp_path / "tmp").mkdir()
    yield clone
    for with_pid in (tmp_path / "marks").glob("*-*"):  # only when a test failed
        if not _gone(pid := int(with_pid.read_text())):
            os.kill(pid, signal.SIGKILL)


class Soak:
    def __init__(self, tmp_path: Path, fake: Path, *, grace_s: float, times: int, **env: str):
        self.marks = tmp_path / "marks"
        # Started as `nohup soak-suite &` from a script would be: SIGINT inherited as ignored.
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                'trap "" INT; exec "$@"',
                "-",
                sys.executable,
                "-c",
                textwrap.dedent(DRIVER),
                str(fake),
                str(grace_s),
                str(times),
            ],
            env={**os.environ, "MARKS": str(self.marks), "TMPDIR": str(tmp_path / "tmp"), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def pid_of(self, name: str) -> int:
        return int((self.marks / name).read_text())

    def wait_up(self) -> None:
        wait_until((self.marks / "up").exists, timeout_s=30, what="the run up", proc=self.proc)

    def end(self) -> str:
        try:
            out, _ = self.proc.communicate(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return out.decode()


def _gone(pid: int) -> bool:
    """Ended: no such process, or only its exit status left (a zombie nobody reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _all_gone(*pids: int) -> None:
    wait_until(lambda: all(_gone(p) for p in pids), timeout_s=10, what=f"{pids} to end")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_soak_started_in_the_background_stops_its_run_and_dies_by_the_signal(
    tmp_path: Path, fake: Path, sig: signal.Signals
) -> None:
    soak = Soak(tmp_path, fake, grace_s=30, times=3, FIRST_EXIT="0")
    soak.wait_up()  # run 1 passed; run 2 is working
    soak.proc.send_signal(sig)
    out = soak.end()
    assert soak.proc.returncode == -sig, out  # so a script running the soak stops too
    # The run got its Ctrl-C although SIGINT reached the soak ignored: pytest would tear down.
    assert (soak.marks / "interrupted").exists()
    assert f"{sig.name}: stopped run 2, not counted" in out
    assert "run 1/3 PASS" in out
    assert "soak-suite: 1 runs, 1 passed, 0 failed" in out
    assert not (soak.marks / "run-3").exists()  # no run after the stop
    # Its helper outlived it in its group: the soak's stop ends that too.
    _all_gone(soak.pid_of("run-2"), soak.pid_of("helper-2"))
    _all_gone(soak.pid_of("helper-1"))  # and a run that ended by itself leaves nothing either


def test_a_run_that_does_not_stop_when_interrupted_is_killed_after_its_grace(
    tmp_path: Path, fake: Path
) -> None:
    soak = Soak(tmp_path, fake, grace_s=2, times=1, IGNORE_SIGINT="1")
    soak.wait_up()
    soak.proc.send_signal(signal.SIGINT)
    soak.proc.send_signal(signal.SIGTERM)  # a second stop changes nothing
    out = soak.end()  # the grace, then SIGKILL to the run's group
    assert soak.proc.returncode == -signal.SIGINT, out
    assert "SIGINT: stopped run 1, not counted" in out
    assert not (soak.marks / "interrupted").exists()
    _all_gone(soak.pid_of("run-1"), soak.pid_of("helper-1"))


def test_a_run_that_ends_by_itself_gives_its_exit_status_and_leaves_nothing_running(
    tmp_path: Path, fake: Path
) -> None:
    soak = Soak(tmp_path, fake, grace_s=30, times=1, FIRST_EXIT="7")
    out = soak.end()
    assert soak.proc.returncode == 1, out
    assert "run 1/1 FAIL" in out
    assert "exit 7" in out
    _all_gone(soak.pid_of("helper-1"))


def test_a_soak_killed_outright_takes_its_run_with_it(tmp_path: Path, fake: Path) -> None:
    soak = Soak(tmp_path, fake, grace_s=30, times=1)
    soak.wait_up()
    soak.proc.kill()
    soak.end()
    # PR_SET_PDEATHSIG: the run's pytest is SIGTERMed (its services are tied to it in turn).
    _all_gone(soak.pid_of("run-1"))


def test_the_soak_keeps_no_clone_of_a_stopped_or_passed_run_but_the_stopped_runs_log(
    tmp_path: Path, fake: Path
) -> None:
    soak = Soak(tmp_path, fake, grace_s=30, times=2, FIRST_EXIT="0")
    soak.wait_up()
    soak.proc.send_signal(signal.SIGINT)
    out = soak.end()
    [root] = (tmp_path / "tmp").iterdir()
    assert not (root / "run-001").exists()  # passed: removed
    assert (root / "run-002" / "output.log").exists()
    assert str(root / "run-002" / "output.log") in out
    shutil.rmtree(root)
