"""`python -m simulator env` serves, and a signal stops it with nothing left (the soak's cycle)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from simulator.processes import spawn, wait_until
from simulator.proctree import descendants
from simulator.soak import Cycle, CycleFailed, run_cycle, stop_and_check

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_env_serves_then_stops_on_a_signal_leaving_nothing_behind(
    tmp_path: Path, sig: signal.Signals
) -> None:
    cycle = run_cycle(1, tmp_path, timeout_s=240, sig=sig)
    assert cycle.cause is None, f"{cycle.cause}\n{cycle.detail}"
    assert cycle.children == ["java", "redis-server"]
    assert len(cycle.ports) == 3  # the broker, its controller, redis


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_env_stopped_while_it_is_starting_leaves_nothing_behind(
    tmp_path: Path, sig: signal.Signals
) -> None:
    cycle = run_cycle(1, tmp_path, timeout_s=240, early=True, sig=sig)
    assert cycle.cause is None, f"{cycle.cause}\n{cycle.detail}"


LEAKY = """
import signal, subprocess, sys, time
subprocess.Popen(["sleep", "60"])  # not tied to us, never stopped: a leak
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("up", flush=True)
time.sleep(60)
"""


def test_the_soak_check_catches_a_child_that_a_clean_exit_left_running(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    log = tmp_path / "env.log"
    proc = spawn([sys.executable, "-c", LEAKY], log=log)
    wait_until(lambda: b"up" in log.read_bytes(), timeout_s=30, what="the leaky parent", proc=proc)
    tree = descendants(proc.pid)
    assert [p.name for p in tree] == ["sleep"]
    with pytest.raises(CycleFailed, match="left running: sleep"):
        stop_and_check(Cycle(n=1, signal="SIGTERM"), proc, tmp_path, tree, signal.SIGTERM)
    assert proc.returncode == 0  # the exit itself was clean: only the check saw the leak
    # And the check killed what it found.
    wait_until(lambda: not tree[0].alive(), timeout_s=10, what="the leak to be killed")
