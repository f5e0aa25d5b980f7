"""Kafka and Redis for tests, demos, load runs: environment, else Docker, else local processes."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.local_kafka import KAFKA_VERSION, LocalKafka
from simulator.local_redis import LocalRedis

log = logging.getLogger("simulator.services")


@dataclass
class Services:
    """Where Kafka and Redis are, how they were provided, and handles to control local ones."""

    kafka_bootstrap: str
    redis_url: str
    kafka_source: str  # "env" | "docker" | "local"
    redis_source: str
    kafka_start_s: float = 0.0
    redis: LocalRedis | None = None  # set when redis is a local process we may stop and restart
    kafka_version: str | None = None
    kafka: LocalKafka | None = None  # set when Kafka is a local process
    workdir: Path | None = None  # where local processes keep their data and logs


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


@contextmanager
def services(
    workdir: Path | None = None,
    *,
    need_kafka: bool = True,
    cancel: threading.Event | None = None,
) -> Iterator[Services]:
    """Provide Kafka and Redis for the duration of the block, stopping what we started.

    Local processes get fresh data directories, reserved ports and a readiness check that
    they really serve; setting `cancel` gives up a start that is still waiting."""
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eventbridge-")))
        use_docker: bool | None = None

        def docker() -> bool:
            nonlocal use_docker
            if use_docker is None:
                use_docker = docker_available()
            return use_docker

        redis_url = os.environ.get("REDIS_URL")
        local_redis: LocalRedis | None = None
        if redis_url:
            redis_source = "env"
        elif docker():
            redis_url, redis_source = _redis_container(stack), "docker"
        else:
            local_redis = LocalRedis(workdir / "redis")
            stack.callback(local_redis.close)
            local_redis.start(cancel=cancel)
            redis_url, redis_source = local_redis.url, "local"

        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        kafka_start_s = 0.0
        version = None
        kafka: LocalKafka | None = None
        if bootstrap or not need_kafka:
            kafka_source = "env" if bootstrap else "none"
        elif docker():
            bootstrap, kafka_source = _kafka_container(stack), "docker"
        else:
            kafka = LocalKafka(workdir / "kafka")
            started = time.monotonic()
            stack.callback(kafka.close)
            kafka.start(cancel=cancel)
            kafka_start_s = time.monotonic() - started
            bootstrap, kafka_source, version = kafka.bootstrap, "local", KAFKA_VERSION
            log.info("local Kafka %s ready at %s in %.1fs", version, bootstrap, kafka_start_s)

        yield Services(
            kafka_bootstrap=bootstrap,
            redis_url=redis_url,
            kafka_source=kafka_source,
            redis_source=redis_source,
            kafka_start_s=kafka_start_s,
            redis=local_redis,
            kafka_version=version,
            kafka=kafka,
            workdir=workdir,
        )
