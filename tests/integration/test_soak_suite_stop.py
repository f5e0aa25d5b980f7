"""soak-suite stops cleanly however it is stopped: its run gets the SIGINT, nothing runs on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.processes import wait_until

pytestmark = pytest.mark.timeout(60)

# Stands in for `make setup && pytest`: a bash whose Python child says when it is up, and what
# became of it. `IGNORE_SIGINT` makes it a run that does not stop when asked.
RUN = """
import os, signal, sys, time
from pathlib import Path
marks = Path(sys.argv[1])
if os.environ.get("IGNORE_SIGINT"):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
(marks / "pid").write_text(str(os.getpid()))
(marks / "up").write_text("")
try:
    time.sleep(50)  # the run's work; only a signal ends it early
except KeyboardInterrupt:
    (marks / "interrupted").write_text("")
    sys.exit(2)
"""

# soak-suite's own loop around one run, as `python -m simulator soak-suite` has it.
DRIVER = """
import sys
from pathlib import Path
from simulator.soak_suite import Interrupted, _stoppable, run_interruptibly
marks, command = Path(sys.argv[1]), sys.argv[2:]
try:
    with _stoppable(), (marks / "output.log").open("wb") as out:
        code = run_interruptibly(command, cwd=marks, env=dict(__import__("os").environ),
                                 out=out, grace_s=2.0)
    print("ended", code)
except Interrupted as stop:
    print("interrupted by", stop)
    sys.exit(130)
"""


def _ignore_sigint() -> None:
    # What `nohup soak-suite &` from a non-interactive shell gives it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    (tmp_path / "run.py").write_text(textwrap.dedent(RUN))
    command = ["bash", "-c", f'"{sys.executable}" run.py "{tmp_path}"; exit $?']
    driver = subprocess.Popen(  # started as a background job: SIGINT ignored
        [sys.executable, "-c", textwrap.dedent(DRIVER), str(tmp_path), *command],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,  # noqa: PLW1509 - no threads, no locks in it
    )
    wait_until((tmp_path / "up").exists, timeout_s=20, what="the run started")
    return driver


def _gone(pid: int) -> bool:
    """Ended: no such process, or only its exit status left (a zombie nobody reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_soak_started_in_the_background_passes_its_stop_on_to_the_run(
    tmp_path: Path, sig: signal.Signals
) -> None:
    driver = _start(tmp_path)
    driver.send_signal(sig)
    out, _ = driver.communicate(timeout=20)
    assert driver.returncode == 130, out
    assert f"interrupted by {sig.name}" in out
    # The run got its Ctrl-C although SIGINT reached us ignored: pytest would stop its services.
    assert (tmp_path / "interrupted").exists()
    assert _gone(int((tmp_path / "pid").read_text()))


def test_a_run_that_does_not_stop_when_interrupted_is_killed_after_its_grace(
    tmp_path: Path,
) -> None:
    driver = _start(tmp_path, IGNORE_SIGINT="1")
    driver.send_signal(signal.SIGINT)
    out, _ = driver.communicate(timeout=20)  # grace 2 s, then SIGKILL to the run's group
    assert driver.returncode == 130, out
    assert not (tmp_path / "interrupted").exists()
    pid = int((tmp_path / "pid").read_text())
    wait_until(lambda: _gone(pid), timeout_s=5, what="the run's process to be gone")


def test_a_run_that_ends_by_itself_gives_its_exit_status(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text("import sys; sys.exit(7)\n")
    code = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DRIVER), str(tmp_path), sys.executable, "run.py"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert code.returncode == 0, code.stderr
    assert "ended 7" in code.stdout
