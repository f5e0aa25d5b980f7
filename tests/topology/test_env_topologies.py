"""`python -m simulator env --topology ...` starts every node, serves, and a signal stops it
with nothing left: no child, no bound port, no temporary file (the soak's own check)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from simulator.soak import run_cycle

pytestmark = pytest.mark.timeout(300)


def test_the_cluster_topology_starts_serves_and_stops_leaving_nothing_behind(
    tmp_path: Path,
) -> None:
    cycle = run_cycle(1, tmp_path, timeout_s=240, sig=signal.SIGTERM, topology="cluster")
    assert cycle.cause is None, f"{cycle.cause}\n{cycle.detail}"
    assert cycle.children == ["java"] * 3 + ["redis-server"] * 6
    assert len(cycle.ports) == 3 * 2 + 6 * 2  # broker + controller each; client + bus each


def test_the_replica_topology_starts_serves_and_stops_leaving_nothing_behind(
    tmp_path: Path,
) -> None:
    cycle = run_cycle(1, tmp_path, timeout_s=240, sig=signal.SIGINT, topology="replica")
    assert cycle.cause is None, f"{cycle.cause}\n{cycle.detail}"
    assert cycle.children == ["java"] + ["redis-server"] * 2
    assert len(cycle.ports) == 2 + 2
