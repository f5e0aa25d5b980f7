"""The local broker: Kafka's own cluster-id rule, a taken port, and a readiness that means it."""

from __future__ import annotations

import itertools
import socket
import subprocess
from pathlib import Path

import pytest

from simulator.kafka_ready import broker_serves
from simulator.local_kafka import LocalKafka, new_cluster_id
from simulator.processes import free_port

pytestmark = pytest.mark.timeout(240)


def test_the_storage_tool_refuses_an_id_starting_with_a_dash_which_we_never_generate(
    tmp_path: Path,
) -> None:
    kafka = LocalKafka(tmp_path)
    jvm = kafka.jvm_command()
    good = new_cluster_id()
    # Why the rule matters: the tool reads "-t -abc..." as a missing id and another option.
    with pytest.raises(subprocess.CalledProcessError):
        kafka.format_storage(jvm, "-" + good[1:])
    log = (tmp_path / "kafka.log").read_text()
    assert "argument --cluster-id/-t: expected one argument" in log
    assert not any(new_cluster_id().startswith("-") for _ in range(5_000))
    kafka.format_storage(jvm, good)
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert f"cluster.id={good}" in meta


def test_a_broker_whose_port_is_taken_moves_to_new_ports_and_serves(tmp_path: Path) -> None:
    # Another process listening on the port we were given: the broker fails to bind it.
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        picks = itertools.chain([taken], iter(free_port, None))
        kafka = LocalKafka(tmp_path, pick_port=lambda: next(picks))
        try:
            kafka.start(timeout_s=180)
            assert kafka.port != taken
            assert broker_serves(kafka.bootstrap, kafka.cluster_id)
            assert "Address already in use" in (tmp_path / "kafka.log").read_text()
        finally:
            kafka.close()


def test_readiness_tells_our_broker_from_another_one(tmp_path: Path) -> None:
    kafka = LocalKafka(tmp_path)
    try:
        kafka.start(timeout_s=180)
        assert broker_serves(kafka.bootstrap, kafka.cluster_id)
        # Someone else's broker on that port would carry another cluster id.
        assert not broker_serves(kafka.bootstrap, new_cluster_id(), timeout_s=10)
    finally:
        kafka.close()
    assert not broker_serves(kafka.bootstrap, kafka.cluster_id, timeout_s=5)
