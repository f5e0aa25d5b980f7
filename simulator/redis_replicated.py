"""A local Redis primary with one replica (`--replicaof`), ready when the replica is in sync."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from simulator.local_redis import NO_SYNC_DELAY, LocalRedis
from simulator.processes import free_port, wait_until


class LocalRedisReplicated:
    """Two redis-servers: a primary clients write to, and its replica. Either may be
    SIGKILLed (`kill()`) and restarted on the same port with its data (`restart()`); the
    replica keeps `--replicaof` on its command line, so it rejoins by itself."""

    def __init__(self, workdir: Path, *, pick_port: Callable[[], int] = free_port) -> None:
        self.workdir = workdir
        self._pick_port = pick_port
        self.primary = LocalRedis(workdir / "primary", pick_port=pick_port, args=NO_SYNC_DELAY)
        self._replica: LocalRedis | None = None  # made once the primary's port is final

    @property
    def url(self) -> str:
        return self.primary.url

    @property
    def replica(self) -> LocalRedis:
        if self._replica is None:
            raise RuntimeError("the replica exists once start() has started the primary")
        return self._replica

    @property
    def nodes(self) -> list[LocalRedis]:
        return [self.primary, *([self._replica] if self._replica is not None else [])]

    def start(self, timeout_s: float = 60.0, *, cancel: threading.Event | None = None) -> float:
        """Start the primary, then the replica of it; return seconds until the replica
        reported `master_link_status:up` with its first sync done."""
        began = time.monotonic()
        deadline = began + timeout_s
        self.primary.start(timeout_s, cancel=cancel)
        if self._replica is None:
            # The primary may have moved to another port when its first one was taken.
            args = ["--replicaof", "127.0.0.1", str(self.primary.port)]
            self._replica = LocalRedis(
                self.workdir / "replica", pick_port=self._pick_port, args=args
            )
        self._replica.start(deadline - time.monotonic(), cancel=cancel)
        self.wait_replicating(deadline - time.monotonic(), cancel=cancel)
        return time.monotonic() - began

    def replicating(self) -> bool:
        return self._replica is not None and self._replica.in_sync_replica(self.primary.port)

    def wait_replicating(
        self, timeout_s: float = 30.0, *, cancel: threading.Event | None = None
    ) -> float:
        """Wait until the replica is linked to the primary and in sync (after a restart)."""
        return wait_until(
            self.replicating,
            timeout_s=max(timeout_s, 0.1),
            what="the Redis replica to sync with its primary",
            cancel=cancel,
        )

    def kill(self, node: LocalRedis) -> None:
        """SIGKILL the primary or the replica."""
        node.kill()

    def restart(self, node: LocalRedis, timeout_s: float = 30.0) -> float:
        """Start a stopped or killed node again (same port, same data), wait until the pair
        replicates again; return seconds taken."""
        began = time.monotonic()
        node.start(timeout_s)
        self.wait_replicating(timeout_s - (time.monotonic() - began))
        return time.monotonic() - began

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.close()
