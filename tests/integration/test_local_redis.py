"""The local redis-server: a taken port, a readiness that means *ours*, restarts, fresh data."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest
import redis

from simulator.local_redis import LocalRedis, serving
from simulator.processes import PortInUse, free_port

pytestmark = pytest.mark.timeout(120)


def test_a_redis_whose_port_is_taken_moves_to_a_new_port_and_serves(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        picks = itertools.chain([taken], iter(free_port, None))
        local = LocalRedis(tmp_path, pick_port=lambda: next(picks))
        try:
            local.start()
            assert local.port != taken
            assert local.pid is not None
            assert serving(local.port, local.pid)
            assert "Address already in use" in (tmp_path / "redis.log").read_text()
        finally:
            local.close()


def test_another_servers_pong_on_our_port_is_not_our_redis_being_ready(tmp_path: Path) -> None:
    other = LocalRedis(tmp_path / "other")
    other.start()
    try:
        # A start on a port someone else's redis-server holds: that server answers PING, but
        # ours never listened. It must fail, not report the other one as ready.
        ours = LocalRedis(tmp_path / "ours", port=other.port)
        with pytest.raises(PortInUse):
            ours.start(timeout_s=3)
        assert not ours.running
    finally:
        other.close()


def test_a_restart_keeps_port_and_data_but_a_new_redis_in_the_same_dir_starts_empty(
    tmp_path: Path,
) -> None:
    first = LocalRedis(tmp_path)
    first.start()
    try:
        client = redis.Redis(port=first.port)
        client.set("kept", "1")
        port = first.port
        first.stop()
        first.start()
        assert first.port == port
        assert client.get("kept") == b"1"  # the append-only file, like a real restart
        client.close()
    finally:
        first.close()
    # An earlier, perhaps interrupted run's data in this workdir is not the next run's.
    second = LocalRedis(tmp_path)
    second.start()
    try:
        client = redis.Redis(port=second.port)
        assert client.get("kept") is None
        client.close()
    finally:
        second.close()
