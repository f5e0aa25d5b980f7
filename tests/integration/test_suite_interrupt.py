"""A SIGINT stops the test run even when the test's event loop loses the cancel it makes of
it (tests/sigint.py): the interrupt is never taken for a test result and the run goes no
further. A real pytest, with the project's settings, over a test that swallows a cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simulator.processes import wait_until

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

def test_swallows_a_cancel():
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


def test_a_sigint_during_a_test_that_swallows_its_cancel_stops_the_run(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    test_file = tmp_path / "test_interrupted.py"
    test_file.write_text(textwrap.dedent(SWALLOWS_A_CANCEL))
    output = tmp_path / "pytest.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(ROOT),
                "-c",
                str(ROOT / "pyproject.toml"),
                str(test_file),
            ],
            cwd=ROOT,
            env={**os.environ, "MARKS": str(marks)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # SIGINT as a terminal gives it, whatever ours is (a soak started in the background)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        )
    try:
        wait_until((marks / "waiting").exists, timeout_s=60, what="the test to wait")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    text = output.read_text(errors="replace")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text, text
    assert not (marks / "second-test-ran").exists(), text
    assert (marks / "cancel-lost").exists(), text  # the test did lose asyncio.run's cancel
    assert not (marks / "ran-on").exists(), text  # and was cancelled again, not waited for
