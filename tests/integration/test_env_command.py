"""`python -m simulator env` serves, and a signal stops it with nothing left (the soak's cycle)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from simulator.soak import run_cycle

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
