"""Shared fixtures: one real Kafka and one real Redis per test session, started on demand, and
the multi-node topologies (SPEC §14) for the tests that ask for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from simulator.kafka_cluster import LocalKafkaCluster
from simulator.redis_cluster import LocalRedisCluster
from simulator.redis_replicated import LocalRedisReplicated
from simulator.services import Services, services, topology_from_env

# A test that asks for one of these runs in the `topology` tier (`make topology`).
TOPOLOGY_FIXTURES = frozenset({"redis_cluster", "redis_replicated", "kafka_cluster"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TOPOLOGY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.topology)


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Kafka and Redis from the environment, Docker, or local processes (SPEC §11), in the
    topology `EVENTBRIDGE_TOPOLOGY` names (default single)."""
    with services(tmp_path_factory.mktemp("services")) as provided:
        yield provided


def _session_topology(request: pytest.FixtureRequest, topology: str) -> Services | None:
    """The session's own services when `EVENTBRIDGE_TOPOLOGY` already asks for `topology`:
    one cluster per session, not two."""
    if topology_from_env() != topology:
        return None
    shared: Services = request.getfixturevalue("real_services")
    return shared


@pytest.fixture(scope="session")
def redis_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRedisCluster]:
    """A local Redis Cluster of 3 masters and 3 replicas, healthy. Fault tests may kill and
    restart its nodes; each leaves it healthy again (`wait_healthy`), masters may have moved."""
    shared = _session_topology(request, "cluster")
    if shared is not None and shared.redis_local_cluster is not None:
        yield shared.redis_local_cluster
        return
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def redis_replicated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRedisReplicated]:
    """A local Redis primary with one replica in sync."""
    shared = _session_topology(request, "replica")
    if shared is not None and shared.redis_replicated is not None:
        yield shared.redis_replicated
        return
    pair = LocalRedisReplicated(tmp_path_factory.mktemp("redis-replicated"))
    try:
        pair.start()
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="session")
def kafka_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalKafkaCluster]:
    """A local Kafka cluster of 3 KRaft nodes (RF 3, min ISR 2), every broker in sync.
    Fault tests may kill and restart a broker; each waits for the full ISR again."""
    shared = _session_topology(request, "cluster")
    if shared is not None and shared.kafka_cluster is not None:
        yield shared.kafka_cluster
        return
    cluster = LocalKafkaCluster(tmp_path_factory.mktemp("kafka-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def unique() -> str:
    """A short unique name for this test's topics, groups and Redis key prefixes."""
    return uuid.uuid4().hex[:10]
