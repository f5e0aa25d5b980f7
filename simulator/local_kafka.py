"""One throwaway Apache Kafka node (KRaft, broker+controller) from Maven Central's jars."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from simulator.kafka_jars import KAFKA_VERSION, LOG4J, cache_dir, ensure_jars, new_cluster_id
from simulator.kafka_ready import broker_serves
from simulator.local_service import PORT_ATTEMPTS, LocalService, with_new_ports
from simulator.processes import (
    Watched,
    free_port,
    log_size,
    port_open,
    release_port,
    run_to_end,
    spawn,
    start_serving,
)

__all__ = [
    "KAFKA_VERSION",
    "PORT_ATTEMPTS",
    "LocalKafka",
    "cache_dir",
    "ensure_jars",
    "new_cluster_id",
]

log = logging.getLogger("simulator.kafka")
# A JVM that formats a few files: seconds even on a loaded machine; a hang must not be forever.
_FORMAT_TIMEOUT_S = 90.0


class LocalKafka(LocalService):
    """One broker+controller process on two reserved loopback ports: a whole cluster by
    itself, or one node of `LocalKafkaCluster` (`node_id`, `voters` and `overrides` set).
    `kill()` is a crash: no controlled shutdown, no leadership handed over."""

    grace_s = 20.0

    def __init__(
        self,
        workdir: Path,
        *,
        heap: str = "768m",
        min_heap: str = "256m",
        pick_port: Callable[[], int] = free_port,
        node_id: int = 1,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.heap = heap
        self.min_heap = min_heap
        self.node_id = node_id
        self.overrides = dict(overrides or {})
        self.voters: str | None = None  # controller.quorum.voters; None: this node alone
        self._pick_port = pick_port
        self.port = pick_port()
        self.controller_port = pick_port()
        self.cluster_id = ""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> Path:
        data = self.workdir / "data"
        voters = self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "4",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests join and leave consumer groups often: no initial delay, short sessions allowed.
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
            # Kafka's default, stated: a static member's 30 s session (kafka.session_timeout_ms
            # with a group_instance_id) must fit under it.
            "group.max.session.timeout.ms": "1800000",
            **self.overrides,
        }
        path = self.workdir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def jvm_command(self) -> list[str]:
        """`java` with the heap, logging and class path to run a Kafka tool or the broker."""
        libs = ensure_jars()
        java = shutil.which("java")
        if not java:
            raise RuntimeError(
                "Java 17+ is required to run Apache Kafka; or set KAFKA_BOOTSTRAP_SERVERS"
            )
        return [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.min_heap}",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
        ]

    def format_storage(
        self, jvm: list[str], cluster_id: str, *, cancel: threading.Event | None = None
    ) -> Path:
        """A fresh, empty data directory formatted for `cluster_id`; returns the properties."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Never reuse data: an earlier (perhaps interrupted) run in this workdir left a log
        # formatted for another cluster id and other ports.
        shutil.rmtree(self.workdir / "data", ignore_errors=True)
        props = self._properties()
        # Tied to us like the broker (its own session, so a Ctrl-C meant for us cannot kill it
        # half-way; PDEATHSIG, so it cannot outlive a SIGKILLed run), and stopped on `cancel`.
        run_to_end(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
            log=self.workdir / "kafka.log",
            timeout_s=_FORMAT_TIMEOUT_S,
            cancel=cancel,
        )
        return props

    def start(self, timeout_s: float = 120.0, *, cancel: threading.Event | None = None) -> float:
        """Format storage, start the broker, return seconds until it served (see
        `broker_serves`). A taken port moves the broker to a new pair of ports."""
        self._not_running()
        jvm = self.jvm_command()
        began = time.monotonic()
        with_new_ports(lambda: self._start_once(jvm, began + timeout_s, cancel), self.move_ports)
        return time.monotonic() - began

    def move_ports(self) -> None:
        """New ports after a failed bind (before the first start: clients know the ports)."""
        taken = (self.port, self.controller_port)
        self.port, self.controller_port = self._pick_port(), self._pick_port()
        for port in taken:
            release_port(port)
        log.warning("Kafka ports %s are taken; trying %s", taken, self.bootstrap)

    def _start_once(self, jvm: list[str], deadline: float, cancel: threading.Event | None) -> None:
        self.cluster_id = new_cluster_id()
        props = self.format_storage(jvm, self.cluster_id, cancel=cancel)
        # An open port is not a working broker (nor necessarily ours): see broker_serves.
        self._proc = start_serving(
            [*jvm, "kafka.Kafka", str(props)],
            log=self.workdir / "kafka.log",
            ready=lambda _: port_open(self.port) and broker_serves(self.bootstrap, self.cluster_id),
            timeout_s=deadline - time.monotonic(),
            what=f"Kafka broker on port {self.port}",
            cancel=cancel,
            grace_s=20.0,
        )

    def launch(self, jvm: list[str]) -> Watched:
        """Start the broker on its formatted (or kept) data and return at once: the nodes of
        a cluster only serve once a quorum of them runs. The caller waits (see `Watched`)."""
        self._not_running()
        log_path = self.workdir / "kafka.log"
        offset = log_size(log_path)
        self._proc = spawn(
            [*jvm, "kafka.Kafka", str(self.workdir / "server.properties")], log=log_path
        )
        return Watched(
            f"Kafka node {self.node_id} on port {self.port}", self._proc, log_path, offset
        )

    def close(self) -> None:
        """Stop for good and give both ports back."""
        self.stop()
        release_port(self.port)
        release_port(self.controller_port)
