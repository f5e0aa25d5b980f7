"""Shared fixtures: one real Kafka and one real Redis per test session, started on demand, and
the multi-node topologies (SPEC §14) for the tests that ask for them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

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


class _Topology(Protocol):
    def start(self) -> float: ...
    def close(self) -> None: ...


T = TypeVar("T", bound=_Topology)


def _started(
    request: pytest.FixtureRequest,
    topology: str,
    shared: Callable[[Services], T | None],
    make: Callable[[], T],
) -> Iterator[T]:
    """The session's own instance when `EVENTBRIDGE_TOPOLOGY` already started `topology` (one
    cluster per session, not two), else a new one, started here and closed at the end."""
    if topology_from_env() == topology:
        found = shared(request.getfixturevalue("real_services"))
        if found is not None:
            yield found
            return
    local = make()
    try:
        local.start()
        yield local
    finally:
        local.close()


@pytest.fixture(scope="session")
def redis_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRedisCluster]:
    """A local Redis Cluster of 3 masters and 3 replicas, healthy. Fault tests may kill and
    restart its nodes; each leaves it healthy again (`wait_healthy`), masters may have moved."""
    yield from _started(
        request,
        "cluster",
        lambda s: s.redis_local_cluster,
        lambda: LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")),
    )


@pytest.fixture(scope="session")
def redis_replicated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRedisReplicated]:
    """A local Redis primary with one replica in sync."""
    yield from _started(
        request,
        "replica",
        lambda s: s.redis_replicated,
        lambda: LocalRedisReplicated(tmp_path_factory.mktemp("redis-replicated")),
    )


@pytest.fixture(scope="session")
def kafka_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalKafkaCluster]:
    """A local Kafka cluster of 3 KRaft nodes (RF 3, min ISR 2), every broker in sync.
    Fault tests may kill and restart a broker; each waits for the full ISR again."""
    yield from _started(
        request,
        "cluster",
        lambda s: s.kafka_cluster,
        lambda: LocalKafkaCluster(tmp_path_factory.mktemp("kafka-cluster")),
    )


@pytest.fixture
def unique() -> str:
    """A short unique name for this test's topics, groups and Redis key prefixes."""
    return uuid.uuid4().hex[:10]
