"""The failover bench's faults on the local Redis Cluster (bench/redis_failover.py)."""

from __future__ import annotations

import argparse
import os
import signal
import time

from simulator.redis_cluster import LocalClusterNode, LocalRedisCluster


class Fault:
    """One fault on the cluster, with the moments that matter marked (wall clock)."""

    def __init__(self, cluster: LocalRedisCluster, kind: str, args: argparse.Namespace) -> None:
        self.cluster, self.kind, self.args = cluster, kind, args
        self.marks: list[tuple[float, str]] = []

    def _mark(self, what: str) -> None:
        self.marks.append((time.time(), what))

    def run(self, master: LocalClusterNode) -> None:
        """Blocking (called in a thread): inject, wait for the cluster to serve, restore."""
        cluster, down_s = self.cluster, self.args.down_s
        [replica] = cluster.replicas_of(master)
        if self.kind == "replica":
            cluster.kill(replica)
            self._mark("replica SIGKILL")
            time.sleep(down_s)  # the outage itself: the replica stays down this long
            cluster.restart(replica)
            self._mark("replica restarted")
        else:
            frozen = self.kind == "lagging"
            if frozen:
                # Frozen first, so it cannot reconnect: what the master sent before the cut
                # waits in the replica's socket; what it acknowledges after, only it holds.
                os.kill(_pid(replica), signal.SIGSTOP)
                master.command("CLIENT", "KILL", "TYPE", "replica")
                self._mark("replica cut off")
                time.sleep(self.args.lag_s)  # the master acknowledges what no replica has
            try:
                cluster.kill(master)
                self._mark("master SIGKILL")
            finally:
                if frozen:
                    os.kill(_pid(replica), signal.SIGCONT)
            cluster.wait_serving(60)
            self._mark("replica promoted")
            time.sleep(max(down_s - (time.time() - self.marks[-2][0]), 0))
            cluster.restart(master)
            self._mark("old master restarted")
        cluster.wait_healthy(60)
        self._mark("healthy")


def _pid(node: LocalClusterNode) -> int:
    pid = node.pid
    if pid is None:
        raise RuntimeError(f"the node on port {node.port} is not running")
    return pid
