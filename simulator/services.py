"""Kafka and Redis for tests, demos, load runs: environment, else Docker, else local processes,
in one of three local topologies (single, replica, cluster)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.kafka_cluster import LocalKafkaCluster
from simulator.local_kafka import KAFKA_VERSION, LocalKafka
from simulator.local_redis import LocalRedis
from simulator.redis_cluster import LocalRedisCluster
from simulator.redis_replicated import LocalRedisReplicated

log = logging.getLogger("simulator.services")

TOPOLOGY_ENV = "EVENTBRIDGE_TOPOLOGY"
# single: one broker, one redis-server. replica: one broker, a Redis primary + replica.
# cluster: 3 brokers (RF 3, min ISR 2) and a Redis Cluster of 3 masters + 3 replicas.
TOPOLOGIES = ("single", "replica", "cluster")
_TRUE = {"1", "true", "yes", "on"}


@dataclass
class Services:
    """Where Kafka and Redis are, how they were provided, and handles to control local ones."""

    kafka_bootstrap: str
    redis_url: str
    kafka_source: str  # "env" | "docker" | "local" | "none"
    redis_source: str
    kafka_start_s: float = 0.0
    redis: LocalRedis | None = None  # the local redis-server clients write to (single, replica)
    kafka_version: str | None = None
    kafka: LocalKafka | None = None  # set when Kafka is one local broker
    workdir: Path | None = None  # where local processes keep their data and logs
    topology: str = "single"
    redis_cluster: bool = False  # clients must use the Cluster client (set `redis.cluster`)
    redis_start_s: float = 0.0
    redis_replicated: LocalRedisReplicated | None = None  # topology "replica"
    redis_local_cluster: LocalRedisCluster | None = None  # topology "cluster"
    kafka_cluster: LocalKafkaCluster | None = None  # topology "cluster"

    def local_pids(self) -> dict[str, list[int]]:
        """The PIDs of the local Kafka and Redis processes we started, per service."""
        kafka = list(self.kafka_cluster.nodes) if self.kafka_cluster else []
        if self.kafka is not None:
            kafka = [self.kafka]
        if self.redis_local_cluster is not None:
            redis: list[Any] = list(self.redis_local_cluster.nodes)
        elif self.redis_replicated is not None:
            redis = list(self.redis_replicated.nodes)
        else:
            redis = [self.redis] if self.redis else []
        return {
            "kafka": [n.pid for n in kafka if n.pid is not None],
            "redis": [n.pid for n in redis if n.pid is not None],
        }


def topology_from_env() -> str:
    """`EVENTBRIDGE_TOPOLOGY` (default single); a bad value stops with a message naming it."""
    value = os.environ.get(TOPOLOGY_ENV, "").strip().lower() or "single"
    if value not in TOPOLOGIES:
        raise ValueError(f"{TOPOLOGY_ENV}={value!r}: expected one of {', '.join(TOPOLOGIES)}")
    return value


def docker_available() -> bool:
    """Whether a Docker daemon answers a ping within a second (no socket → False at once)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # noqa: PLC0415 - only needed on machines that have a daemon

        client = docker.from_env(timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _kafka_container(stack: ExitStack) -> str:
    from testcontainers.community.kafka import KafkaContainer  # noqa: PLC0415

    container: Any = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft()
    stack.enter_context(container)
    return str(container.get_bootstrap_server())


def _redis_container(stack: ExitStack) -> str:
    from testcontainers.community.redis import RedisContainer  # noqa: PLC0415

    container: Any = RedisContainer("redis:7.4")
    stack.enter_context(container)
    host = container.get_container_host_ip()
    return f"redis://{host}:{container.get_exposed_port(6379)}/0"


def _local_redis(
    found: Services, stack: ExitStack, workdir: Path, cancel: threading.Event | None
) -> None:
    """Start the local Redis of `found.topology` and record it in `found`."""
    node: LocalRedis | LocalRedisReplicated | LocalRedisCluster
    if found.topology == "cluster":
        node = found.redis_local_cluster = LocalRedisCluster(workdir / "redis-cluster")
        found.redis_cluster = True
    elif found.topology == "replica":
        node = found.redis_replicated = LocalRedisReplicated(workdir / "redis-replicated")
        found.redis = node.primary
    else:
        node = found.redis = LocalRedis(workdir / "redis")
    stack.callback(node.close)
    found.redis_start_s = node.start(cancel=cancel)
    found.redis_url, found.redis_source = node.url, "local"
    log.info("local Redis (%s) ready in %.1fs", found.topology, found.redis_start_s)


def _local_kafka(
    found: Services, stack: ExitStack, workdir: Path, cancel: threading.Event | None
) -> None:
    """Start the local Kafka of `found.topology` and record it in `found`."""
    node: LocalKafka | LocalKafkaCluster
    if found.topology == "cluster":
        node = found.kafka_cluster = LocalKafkaCluster(workdir / "kafka-cluster")
    else:
        node = found.kafka = LocalKafka(workdir / "kafka")
    stack.callback(node.close)
    found.kafka_start_s = node.start(cancel=cancel)
    found.kafka_bootstrap, found.kafka_source = node.bootstrap, "local"
    found.kafka_version = KAFKA_VERSION
    log.info(
        "local Kafka %s (%s) ready at %s in %.1fs",
        KAFKA_VERSION,
        found.topology,
        found.kafka_bootstrap,
        found.kafka_start_s,
    )


@contextmanager
def services(
    workdir: Path | None = None,
    *,
    need_kafka: bool = True,
    cancel: threading.Event | None = None,
    topology: str | None = None,
) -> Iterator[Services]:
    """Provide Kafka and Redis for the duration of the block, stopping what we started.

    `KAFKA_BOOTSTRAP_SERVERS` / `REDIS_URL` (with `EVENTBRIDGE__REDIS__CLUSTER=true` for a
    Cluster) are used as they are; otherwise Docker gives single nodes, and local processes
    give `topology` (default: `EVENTBRIDGE_TOPOLOGY`, else single). Local processes get
    fresh data directories, reserved ports and a readiness check that they really serve;
    setting `cancel` gives up a start that is still waiting."""
    chosen = topology or topology_from_env()
    if chosen not in TOPOLOGIES:
        raise ValueError(f"topology {chosen!r}: expected one of {', '.join(TOPOLOGIES)}")
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-")))
        found = Services("", "", "none", "none", workdir=workdir, topology=chosen)
        use_docker: bool | None = None

        def docker() -> bool:
            # Containers give single nodes only: other topologies are local processes.
            nonlocal use_docker
            if use_docker is None:
                use_docker = chosen == "single" and docker_available()
            return use_docker

        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            found.redis_url, found.redis_source = redis_url, "env"
            cluster_flag = os.environ.get("EVENTBRIDGE__REDIS__CLUSTER", "")
            found.redis_cluster = cluster_flag.strip().lower() in _TRUE
        elif docker():
            found.redis_url, found.redis_source = _redis_container(stack), "docker"
        else:
            _local_redis(found, stack, workdir, cancel)

        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if bootstrap:
            found.kafka_bootstrap, found.kafka_source = bootstrap, "env"
        elif not need_kafka:
            found.kafka_source = "none"
        elif docker():
            found.kafka_bootstrap, found.kafka_source = _kafka_container(stack), "docker"
        else:
            _local_kafka(found, stack, workdir, cancel)
        yield found
