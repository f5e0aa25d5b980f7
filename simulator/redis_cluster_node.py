"""One node of a local Redis Cluster: a redis-server with `--cluster-enabled yes`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import redis

from simulator.local_redis import NO_SYNC_DELAY, LocalRedis
from simulator.processes import free_port, release_port
from simulator.redis_cluster_view import NodeEntry, parse_info, parse_nodes


class LocalClusterNode(LocalRedis):
    """A redis-server with `--cluster-enabled yes`: its own data dir (holding its
    `nodes.conf`), a client port and a cluster-bus port, both reserved, announced as
    127.0.0.1 so that clients (redis-py's RedisCluster) reach every node on loopback."""

    def __init__(
        self, workdir: Path, *, node_timeout_ms: int, pick_port: Callable[[], int] = free_port
    ) -> None:
        super().__init__(workdir, pick_port=pick_port)
        self.bus_port = pick_port()  # not port+10000, which may be taken or past 65535
        self.node_timeout_ms = node_timeout_ms

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _extra_args(self) -> list[str]:
        return [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",  # in --dir: a fresh one per node and per run
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            "--cluster-port",
            str(self.bus_port),
            "--cluster-announce-ip",
            "127.0.0.1",
            # A replica may always take over, however long it was cut off (tests kill often).
            "--cluster-replica-validity-factor",
            "0",
            *NO_SYNC_DELAY,
            *self.args,
        ]

    def _move_ports(self) -> list[int]:
        taken = super()._move_ports()
        old, self.bus_port = self.bus_port, self._pick_port()
        release_port(old)
        return [*taken, old]

    def close(self) -> None:
        super().close()
        release_port(self.bus_port)

    def command(self, *args: str) -> str:
        """One command on this node alone (no redirection), its reply as text."""
        client = self.client()
        try:
            return str(client.execute_command(*args))
        finally:
            client.close()

    def view(self) -> tuple[dict[str, str], list[NodeEntry]] | None:
        """(CLUSTER INFO, CLUSTER NODES) as this node sees them; None if it does not answer."""
        client = self.client()
        try:
            info = str(client.execute_command("CLUSTER", "INFO"))
            nodes = str(client.execute_command("CLUSTER", "NODES"))
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()
        return parse_info(info), parse_nodes(nodes)

    def role(self) -> str | None:
        """The role INFO reports ("master" or "slave"); None if the node does not answer."""
        info = self.info("replication")
        return None if info is None else str(info.get("role"))
