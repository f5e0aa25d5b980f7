"""A local Kafka cluster: 3 KRaft nodes, each broker and controller, and its fault controls."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from adapters.kafka.admin import create_topics
from simulator.kafka_jars import new_cluster_id
from simulator.kafka_metadata import PartitionState, every_view, metadata
from simulator.kafka_ready import broker_serves
from simulator.local_kafka import LocalKafka
from simulator.local_service import with_new_ports
from simulator.processes import free_port, wait_until

# Durable by default, as SPEC §14 asks; short failure detection, for tests.
CLUSTER_SETTINGS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    "unclean.leader.election.enable": "false",
    # A SIGKILLed broker is fenced (its partitions get new leaders, it leaves their ISR) when
    # it misses heartbeats for this long: 9 s by default.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    # A follower that stopped fetching leaves the ISR after this long (30 s by default).
    "replica.lag.time.max.ms": "5000",
}


class LocalKafkaCluster:
    """`size` nodes on reserved loopback ports, all voters of one KRaft quorum, each with a
    modest heap. `start()` returns once every broker serves (see `broker_serves`)."""

    def __init__(
        self,
        workdir: Path,
        *,
        size: int = 3,
        heap: str = "384m",
        min_heap: str = "128m",
        pick_port: Callable[[], int] = free_port,
    ) -> None:
        self.workdir = workdir
        self.cluster_id = ""
        self.nodes = [
            LocalKafka(
                workdir / f"node-{i}",
                heap=heap,
                min_heap=min_heap,
                pick_port=pick_port,
                node_id=i,
                overrides=CLUSTER_SETTINGS,
            )
            for i in range(1, size + 1)
        ]

    @property
    def bootstrap(self) -> str:
        """Every broker: a client still gets in while any one of them is down."""
        return ",".join(n.bootstrap for n in self.nodes)

    def start(self, timeout_s: float = 180.0, *, cancel: threading.Event | None = None) -> float:
        """Format every node for one new cluster id, start them together (a quorum needs a
        majority), wait until the cluster serves; a taken port moves every node."""
        jvm = self.nodes[0].jvm_command()
        began = time.monotonic()

        def move_ports() -> None:
            for node in self.nodes:
                node.move_ports()

        with_new_ports(lambda: self._start_once(jvm, began + timeout_s, cancel), move_ports)
        return time.monotonic() - began

    def _start_once(self, jvm: list[str], deadline: float, cancel: threading.Event | None) -> None:
        self.cluster_id = new_cluster_id()
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.voters = voters
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-format") as pool:
            cluster_id = self.cluster_id
            list(pool.map(lambda n: n.format_storage(jvm, cluster_id, cancel=cancel), self.nodes))
        watched = [node.launch(jvm) for node in self.nodes]
        try:
            wait_until(
                lambda: broker_serves(self.bootstrap, self.cluster_id, brokers=len(self.nodes)),
                timeout_s=max(deadline - time.monotonic(), 0.1),
                what=f"Kafka cluster of {len(self.nodes)} on {self.bootstrap}",
                cancel=cancel,
                watch=watched,
            )
        except BaseException:
            self.stop()
            raise

    def create_topics(self, topics: dict[str, int], *, timeout_s: float = 60.0) -> None:
        """Create `topics` (name → partitions) replicated to every node, and wait until each
        partition has its full ISR."""
        asyncio.run(create_topics(self.bootstrap, topics, replication_factor=len(self.nodes)))
        self.wait_in_sync(list(topics), timeout_s)

    # -- state -----------------------------------------------------------------------------

    def partitions(self, topics: list[str] | None = None) -> list[PartitionState]:
        """Leader, replicas and ISR of every partition of `topics` (default: all)."""
        found = metadata(self.bootstrap, topics)
        if found is None:
            raise RuntimeError(f"no broker of {self.bootstrap} answered")
        return found[1]

    def leader_of(self, topic: str, partition: int = 0) -> LocalKafka:
        """The node leading `topic`-`partition` now."""
        [state] = [p for p in self.partitions([topic]) if p.partition == partition]
        return self.node(state.leader)

    def node(self, node_id: int) -> LocalKafka:
        [found] = [n for n in self.nodes if n.node_id == node_id]
        return found

    def in_sync(self, topics: list[str] | None = None) -> bool:
        """Every node is a live broker and every partition has its whole replica set in sync,
        in every broker's own metadata (so whichever broker is asked next says so too)."""
        views = every_view(self.bootstrap, topics)
        everyone = {n.node_id for n in self.nodes}
        return (
            views is not None
            and set(views) == everyone
            and all(
                brokers == everyone and bool(states) and all(p.in_sync for p in states)
                for brokers, states in views.values()
            )
        )

    def wait_in_sync(self, topics: list[str] | None = None, timeout_s: float = 60.0) -> float:
        """Wait until `in_sync(topics)`, e.g. after a killed broker was restarted."""
        return wait_until(
            lambda: self.in_sync(topics),
            timeout_s=timeout_s,
            what="every Kafka partition to have its full ISR",
        )

    def wait_new_leader(
        self, topic: str, partition: int, old: LocalKafka, timeout_s: float = 30.0
    ) -> LocalKafka:
        """Wait until a live broker other than `old` leads `topic`-`partition`; return it."""
        found: list[LocalKafka] = []

        def elected() -> bool:
            # Every live broker must name the same new leader: one that still names `old`
            # (its metadata a little behind) would answer the caller's next question with it.
            views = every_view(self.bootstrap, [topic])
            if not views or old.node_id in views:
                return False
            named = [
                p.leader if p.leader in brokers - {old.node_id} else -1
                for brokers, states in views.values()
                for p in states
                if p.partition == partition
            ]
            if len(named) == len(views) and len(set(named)) == 1 and named[0] >= 0:
                found.append(self.node(named[0]))
                return True
            return False

        wait_until(elected, timeout_s=timeout_s, what=f"a new leader of {topic}-{partition}")
        return found[-1]

    # -- controls --------------------------------------------------------------------------

    def kill(self, node: LocalKafka) -> None:
        """SIGKILL one broker: no controlled shutdown, so its partitions move only once the
        controller fences it (`broker.session.timeout.ms`)."""
        node.kill()

    def restart(self, node: LocalKafka, timeout_s: float = 120.0) -> float:
        """Start a killed or stopped node again with its node id, data dir and ports; return
        once it is a live broker again (its replicas may still be catching up: see
        `wait_in_sync`). Its ports stay reserved for us meanwhile, so they are still free."""
        began = time.monotonic()

        def back() -> bool:
            found = metadata(self.bootstrap)
            return found is not None and node.node_id in found[0]

        watched = node.launch(node.jvm_command())
        try:
            wait_until(
                back,
                timeout_s=timeout_s,
                what=f"Kafka node {node.node_id} to rejoin",
                watch=[watched],
            )
        except BaseException:
            node.stop()  # nothing half-started is left running
            raise
        return time.monotonic() - began

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-stop") as pool:
            list(pool.map(lambda n: n.stop(), self.nodes))

    def close(self) -> None:
        """Stop every node (in parallel: each takes seconds) and give all ports back."""
        self.stop()
        for node in self.nodes:
            node.close()
