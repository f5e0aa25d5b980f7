"""A SIGINT stops the test run even when the test's event loop loses the cancel it makes of
it (tests/sigint.py): the interrupt is never taken for a test result, nothing is raised over
it, and the run goes no further. A real pytest, with the project's settings, over a test
that swallows a cancel and a fixture interrupted while it starts a service."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.processes import spawn, stop, wait_until

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]

# After a test that leaves Python's default SIGINT handler, one swallows a cancel (as CPython
# 3.11's wait_for can, gh-86296) and works on. Under asyncio.run's own SIGINT handling it runs
# to its end, passes, and the test after it runs.
SWALLOWS_A_CANCEL = """
import asyncio, os, signal
from pathlib import Path

MARKS = Path(os.environ["MARKS"])

def test_runs_a_process_own_handlers():  # as eventbridge_main in-process: Python's default after
    async def main():
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, print)
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
    asyncio.run(main())

def test_swallows_a_cancel(tmp_path):
    async def main():
        (MARKS / "waiting").touch()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass  # lost
        (MARKS / "cancel-lost").touch()
        await asyncio.sleep(60)  # and works on
        (MARKS / "ran-on").touch()
    asyncio.run(main())

def test_after():
    (MARKS / "second-test-ran").touch()
"""


# A fixture interrupted while it starts something: no report of its setup is made, and
# tmp_path's teardown at the session's end raised KeyError over the interrupt (seen in a soak).
INTERRUPTED_IN_SETUP = """
import os, time
from pathlib import Path
import pytest

MARKS = Path(os.environ["MARKS"])

@pytest.fixture
def service(tmp_path):
    (MARKS / "waiting").touch()
    time.sleep(60)  # stands for a service's start
    yield

def test_uses_a_service(service):
    (MARKS / "ran-on").touch()

def test_after():
    (MARKS / "second-test-ran").touch()
"""


def interrupted(tmp_path: Path, source: str) -> tuple[int, str, Path]:
    """Run `source` under pytest, SIGINT it once it says "waiting": its code, output, marks."""
    marks = tmp_path / "marks"
    marks.mkdir()
    test_file = tmp_path / "test_interrupted.py"
    test_file.write_text(textwrap.dedent(source))
    output = tmp_path / "pytest.out"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    # spawn: its own group, SIGINT as a terminal gives it whatever ours is (a soak started
    # in the background ignores it), and it dies with us
    proc = spawn(
        [*argv, "-c", str(ROOT / "pyproject.toml"), str(test_file)],
        log=output,
        cwd=ROOT,
        env={**os.environ, "MARKS": str(marks)},
    )
    try:
        wait_until((marks / "waiting").exists, timeout_s=60, what="the test to wait")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        stop(proc, grace_s=1)
    return proc.returncode, output.read_text(errors="replace"), marks


@pytest.mark.parametrize("source", [SWALLOWS_A_CANCEL, INTERRUPTED_IN_SETUP], ids=["call", "setup"])
def test_a_sigint_stops_the_run_at_once_and_only_says_so(tmp_path: Path, source: str) -> None:
    code, text, marks = interrupted(tmp_path, source)
    assert code == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text, text
    assert "Traceback" not in text, text  # nothing raised over it, in a teardown (tmp_path's)
    assert not (marks / "second-test-ran").exists(), text
    assert not (marks / "ran-on").exists(), text  # cancelled again, not waited for
    if source is SWALLOWS_A_CANCEL:
        assert (marks / "cancel-lost").exists(), text  # the test did lose asyncio.run's cancel
