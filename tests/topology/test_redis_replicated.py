"""A local Redis primary with one replica: writes reach the replica, the replica refuses
writes, and a killed replica restarted on its port catches up by itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from simulator.processes import wait_until
from simulator.redis_replicated import LocalRedisReplicated

pytestmark = pytest.mark.timeout(60)


def _reads(pair: LocalRedisReplicated, key: str) -> str | None:
    client = pair.replica.client()
    try:
        value = client.get(key)
    finally:
        client.close()
    return None if value is None else str(value)


def test_a_write_to_the_primary_reaches_the_replica_which_refuses_writes(
    redis_replicated: LocalRedisReplicated, unique: str
) -> None:
    assert redis_replicated.replicating()
    primary = redis_replicated.primary.client()
    replica = redis_replicated.replica.client()
    try:
        primary.set(f"{unique}:k", "v1")
        wait_until(
            lambda: _reads(redis_replicated, f"{unique}:k") == "v1",
            timeout_s=10,
            what="the write to reach the replica",
        )
        with pytest.raises(redis.ReadOnlyError):
            replica.set(f"{unique}:k", "on the replica")
    finally:
        primary.close()
        replica.close()


def test_a_killed_replica_restarted_catches_up_and_wait_counts_it_only_while_it_is_up(
    redis_replicated: LocalRedisReplicated, unique: str
) -> None:
    primary = redis_replicated.primary.client()
    try:
        primary.set(f"{unique}:k", "before")
        assert primary.execute_command("WAIT", 1, 5000) == 1
        redis_replicated.kill(redis_replicated.replica)
        primary.set(f"{unique}:k", "while down")
        # What a durable acknowledgement (WAIT) sees with its replica gone: no copy.
        assert primary.execute_command("WAIT", 1, 100) == 0
        redis_replicated.restart(redis_replicated.replica)
        assert _reads(redis_replicated, f"{unique}:k") == "while down"
        primary.set(f"{unique}:k", "after")
        assert primary.execute_command("WAIT", 1, 5000) == 1
        assert _reads(redis_replicated, f"{unique}:k") == "after"
    finally:
        primary.close()


def test_a_replica_stopped_while_it_writes_its_first_append_only_file_still_exits_cleanly(
    tmp_path: Path,
) -> None:
    # Right after its first sync a replica rewrites its append-only file, and redis-server
    # refuses a SIGTERM meanwhile ("Writing initial AOF, can't exit") and keeps running.
    pair = LocalRedisReplicated(tmp_path)
    try:
        pair.start()
        log = pair.replica.workdir / "redis.log"
        pair.replica.stop()
        text = log.read_text()
        # A clean shutdown (it was asked again), not the SIGKILL at the end of the grace.
        assert "ready to exit, bye bye" in text.rsplit("Received SIGTERM", 1)[-1]
    finally:
        pair.close()


def test_starting_a_node_that_runs_is_refused_rather_than_losing_its_process(
    redis_replicated: LocalRedisReplicated,
) -> None:
    pid = redis_replicated.replica.pid
    with pytest.raises(RuntimeError, match="already running"):
        redis_replicated.replica.start()
    assert redis_replicated.replica.pid == pid
    assert redis_replicated.replicating()
