"""The local broker: Kafka's own cluster-id rule, a taken port, and a readiness that means it."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from simulator.kafka_ready import broker_serves
from simulator.local_kafka import LocalKafka, new_cluster_id
from simulator.processes import Cancelled, free_port, wait_until
from simulator.proctree import Proc, descendants

pytestmark = pytest.mark.timeout(240)


def test_the_storage_tool_refuses_an_id_starting_with_a_dash_which_we_never_generate(
    tmp_path: Path,
) -> None:
    kafka = LocalKafka(tmp_path)
    jvm = kafka.jvm_command()
    good = new_cluster_id()
    # Why the rule matters: the tool reads "-t -abc..." as a missing id and another option.
    with pytest.raises(RuntimeError, match="argument --cluster-id/-t: expected one argument"):
        kafka.format_storage(jvm, "-" + good[1:])
    assert not any(new_cluster_id().startswith("-") for _ in range(5_000))
    kafka.format_storage(jvm, good)
    meta = (tmp_path / "data" / "meta.properties").read_text()
    assert f"cluster.id={good}" in meta


# A format that hangs, in place of the JVM: `sh -c 'exec sleep 60' kafka.tools.StorageTool ...`.
HANGS = ["sh", "-c", "exec sleep 60"]
FORMATS = f"""
import sys
from pathlib import Path
from simulator.local_kafka import LocalKafka
LocalKafka(Path(sys.argv[1])).format_storage({HANGS!r}, "x")
"""


def test_a_format_dies_with_a_killed_run_and_is_stopped_when_we_are_asked_to_stop(
    tmp_path: Path,
) -> None:
    # A run SIGKILLed while it formats (an interrupted `make test`) leaves nothing behind.
    parent = subprocess.Popen(
        [sys.executable, "-c", FORMATS, str(tmp_path / "killed")],
        cwd=Path(__file__).resolve().parents[2],
    )
    seen: list[Proc] = []

    def formatting() -> bool:
        seen.extend(p for p in descendants(parent.pid) if p.name == "sleep")
        return bool(seen)

    try:
        wait_until(formatting, timeout_s=30, what="the format to start")
    finally:
        parent.kill()
        parent.wait()
    wait_until(lambda: not seen[0].alive(), timeout_s=20, what="the orphaned format to die")
    # Asked to stop (env's SIGTERM during its start): stopped at once, not waited for.
    asked = threading.Event()
    threading.Timer(1.0, asked.set).start()
    with pytest.raises(Cancelled):
        LocalKafka(tmp_path / "cancelled").format_storage(HANGS, "x", cancel=asked)
    assert not [p for p in descendants(os.getpid()) if p.name == "sleep" and p.alive()]


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
