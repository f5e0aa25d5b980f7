"""A fixed Redis port that stays taken is reported as taken, however slow the last try was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator import local_redis
from simulator.local_redis import LocalRedis
from simulator.processes import PortInUse


def test_a_taken_fixed_port_whose_last_retry_times_out_is_reported_as_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen under load: the port is taken, the retry's redis-server is slow to start and the
    # deadline passes inside it, which surfaced as "not ready after 0s" instead of PortInUse.
    tries: list[float] = []

    def start_once(
        self: LocalRedis, binary: str, data: Path, timeout_s: float, cancel: Any
    ) -> None:
        tries.append(timeout_s)
        if len(tries) == 1:
            raise PortInUse("taken")
        raise TimeoutError("redis-server not ready after 0s")

    monkeypatch.setattr(local_redis, "ensure_redis_server", lambda: "redis-server")
    monkeypatch.setattr(LocalRedis, "_start_once", start_once)
    ours = LocalRedis(tmp_path, port=6399)
    with pytest.raises(PortInUse):
        ours.start(timeout_s=3)
    assert len(tries) == 2


def test_a_redis_that_never_serves_on_a_free_port_is_a_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def start_once(
        self: LocalRedis, binary: str, data: Path, timeout_s: float, cancel: Any
    ) -> None:
        raise TimeoutError("redis-server not ready after 3s")

    monkeypatch.setattr(local_redis, "ensure_redis_server", lambda: "redis-server")
    monkeypatch.setattr(LocalRedis, "_start_once", start_once)
    with pytest.raises(TimeoutError):
        LocalRedis(tmp_path, port=6399).start(timeout_s=3)
