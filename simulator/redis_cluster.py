"""A local Redis Cluster (3 masters + 3 replicas by default) and its fault controls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from simulator.local_redis import ensure_redis_cli
from simulator.processes import free_port, run_to_end, wait_until
from simulator.redis_cluster_node import LocalClusterNode
from simulator.redis_cluster_view import (
    SLOTS,
    NodeEntry,
    covers_every_slot,
    slot_owners,
    unreplicated_masters,
)

__all__ = ["LocalClusterNode", "LocalRedisCluster"]


class LocalRedisCluster:
    """`masters` masters with `replicas` replicas each on loopback, created with
    `redis-cli --cluster create`. `start()` returns once the cluster is healthy."""

    def __init__(
        self,
        workdir: Path,
        *,
        masters: int = 3,
        replicas: int = 1,
        node_timeout_ms: int = 1500,
        pick_port: Callable[[], int] = free_port,
    ) -> None:
        self.workdir = workdir
        self.replicas = replicas
        self.nodes = [
            LocalClusterNode(
                workdir / f"node-{i}", node_timeout_ms=node_timeout_ms, pick_port=pick_port
            )
            for i in range(1, masters * (1 + replicas) + 1)
        ]

    @property
    def url(self) -> str:
        """A startup node for `RedisCluster.from_url` (it discovers the others)."""
        return self.nodes[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.port) for n in self.nodes]

    def start(self, timeout_s: float = 90.0, *, cancel: threading.Event | None = None) -> float:
        """Start every node (in parallel), create the cluster, wait until `healthy()`."""
        began = time.monotonic()
        deadline = began + timeout_s
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="redis-node") as pool:
            # list(): re-raises the first failure; close() stops whatever did start.
            list(pool.map(lambda n: n.start(timeout_s, cancel=cancel), self.nodes))
        argv = [ensure_redis_cli(), "--cluster", "create", *(n.address for n in self.nodes)]
        argv += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        run_to_end(
            argv,
            log=self.workdir / "cluster-create.log",
            timeout_s=deadline - time.monotonic(),
            cancel=cancel,
        )
        self.wait_healthy(deadline - time.monotonic(), cancel=cancel)
        return time.monotonic() - began

    # -- state -----------------------------------------------------------------------------

    def _views(self) -> list[tuple[LocalClusterNode, dict[str, str], list[NodeEntry]]] | None:
        views = []
        for node in self.nodes:
            if node.running:
                seen = node.view()
                if seen is None:
                    return None
                views.append((node, *seen))
        return views or None

    def serving(self) -> bool:
        """Every running node says `cluster_state:ok` with all 16384 slots ok, all of them
        agree on which master serves which slot, and every such master is running."""
        views = self._views()
        if views is None:
            return False
        running = {n.port for n in self.nodes if n.running}
        owners = {slot_owners(entries) for _, _, entries in views}
        if len(owners) != 1:
            return False
        [agreed] = owners
        return (
            all(
                info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == str(SLOTS)
                for _, info, _ in views
            )
            and covers_every_slot(agreed)
            and {port for _, _, port in agreed} <= running
        )

    def healthy(self) -> bool:
        """`serving()`, every node up and known to every node with none failing, and every
        master followed by a replica whose replication link is up."""
        if not all(n.running for n in self.nodes) or not self.serving():
            return False
        views = self._views() or []
        for _, _, entries in views:
            if len(entries) != len(self.nodes) or any(e.failing for e in entries):
                return False
            if self.replicas and unreplicated_masters(entries):
                return False
        return all(n.in_sync_replica() for n in self.nodes if n.role() == "slave")

    def wait_serving(
        self, timeout_s: float = 30.0, *, cancel: threading.Event | None = None
    ) -> float:
        """Wait until `serving()` (e.g. after a master was killed and its replica promoted)."""
        return wait_until(
            self.serving,
            timeout_s=max(timeout_s, 0.1),
            what="Redis Cluster to serve every slot",
            cancel=cancel,
        )

    def wait_healthy(
        self, timeout_s: float = 60.0, *, cancel: threading.Event | None = None
    ) -> float:
        """Wait until `healthy()` (e.g. after a killed node was restarted and rejoined)."""
        return wait_until(
            self.healthy,
            timeout_s=max(timeout_s, 0.1),
            what="Redis Cluster to be healthy",
            cancel=cancel,
        )

    # -- controls --------------------------------------------------------------------------

    def _any_running(self) -> LocalClusterNode:
        for node in self.nodes:
            if node.running:
                return node
        raise RuntimeError("no node of the cluster is running")

    def keyslot(self, key: str) -> int:
        return int(self._any_running().command("CLUSTER", "KEYSLOT", key))

    def master_of(self, key: str | None = None, *, slot: int | None = None) -> LocalClusterNode:
        """The running node that serves `key`'s slot (or `slot`) as master, by CLUSTER SLOTS."""
        if slot is None:
            if key is None:
                raise ValueError("a key or a slot")
            slot = self.keyslot(key)
        client = self._any_running().client()
        try:
            ranges = client.execute_command("CLUSTER", "SLOTS")
        finally:
            client.close()
        for start, end, master, *_ in ranges:
            if int(start) <= slot <= int(end):
                return self.node_on(int(master[1]))
        raise RuntimeError(f"no master serves slot {slot}")

    def node_on(self, port: int) -> LocalClusterNode:
        [node] = [n for n in self.nodes if n.port == port]
        return node

    def replicas_of(self, master: LocalClusterNode) -> list[LocalClusterNode]:
        """The nodes that follow `master`, as `master` itself sees them."""
        seen = master.view()
        if seen is None:
            raise RuntimeError(f"the master on port {master.port} does not answer")
        me = next(e for e in seen[1] if "myself" in e.flags)
        return [self.node_on(e.port) for e in seen[1] if e.master_id == me.node_id]

    def kill(self, node: LocalClusterNode) -> None:
        """SIGKILL one node: a crash, nothing written on the way out."""
        node.kill()

    def restart(self, node: LocalClusterNode, timeout_s: float = 30.0) -> float:
        """Start a killed node again on its port with its data dir and `nodes.conf`: it
        rejoins, as a replica if its replica was promoted meanwhile. Does not wait for the
        cluster (see `wait_healthy`)."""
        return node.start(timeout_s)

    def failover(self, replica: LocalClusterNode, timeout_s: float = 30.0) -> float:
        """A planned failover: `CLUSTER FAILOVER` on `replica`, which waits for its master to
        stop writes and catches up first; returns once it is a master and the cluster serves."""
        began = time.monotonic()
        replica.command("CLUSTER", "FAILOVER")
        wait_until(
            lambda: replica.role() == "master" and self.serving(),
            timeout_s=timeout_s,
            what=f"the replica on port {replica.port} to take over",
        )
        return time.monotonic() - began

    def close(self) -> None:
        for node in self.nodes:
            node.close()
