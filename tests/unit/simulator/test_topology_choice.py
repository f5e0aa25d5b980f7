"""The one switch: EVENTBRIDGE_TOPOLOGY picks the local topology, a bad value names the
variable, and services from the environment are used as they are (nothing is started)."""

from __future__ import annotations

import pytest

from simulator.services import services, topology_from_env

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "single"), ("", "single"), ("replica", "replica"), (" Cluster ", "cluster")],
)
def test_the_topology_comes_from_one_variable_and_defaults_to_single(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv("EVENTBRIDGE_TOPOLOGY", raising=False)
    else:
        monkeypatch.setenv("EVENTBRIDGE_TOPOLOGY", value)
    assert topology_from_env() == expected


def test_a_bad_topology_stops_with_a_message_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTBRIDGE_TOPOLOGY", "sharded")
    with pytest.raises(ValueError, match=r"EVENTBRIDGE_TOPOLOGY='sharded'.*single, replica"):
        topology_from_env()
    with pytest.raises(ValueError, match="topology 'mesh'"), services(topology="mesh"):
        pass


@pytest.mark.parametrize("flag", ["true", "1", "yes", "TRUE"])
def test_env_services_are_used_as_they_are_with_the_cluster_flag(
    monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    monkeypatch.setenv("EVENTBRIDGE_TOPOLOGY", "cluster")  # env wins: nothing is started
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1:9092,b2:9092,b3:9092")
    monkeypatch.setenv("REDIS_URL", "redis://cache:7000/0")
    monkeypatch.setenv("EVENTBRIDGE__REDIS__CLUSTER", flag)
    with services() as found:
        assert (found.kafka_source, found.redis_source) == ("env", "env")
        assert found.kafka_bootstrap == "b1:9092,b2:9092,b3:9092"
        assert found.redis_url == "redis://cache:7000/0"
        assert found.redis_cluster is True
        assert found.local_pids() == {"kafka": [], "redis": []}


def test_an_env_redis_without_the_flag_is_a_single_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1:9092")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.delenv("EVENTBRIDGE__REDIS__CLUSTER", raising=False)
    with services() as found:
        assert found.redis_cluster is False
