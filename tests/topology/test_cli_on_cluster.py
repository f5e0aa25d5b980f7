"""`eventbridge health` and `eventbridge dlq` against a bridge on the cluster topology (SPEC §14):
3 Kafka brokers and a Redis Cluster of 3 masters and 3 replicas."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from simulator.kafka_cluster import LocalKafkaCluster
from simulator.processes import free_port
from simulator.redis_cluster import LocalRedisCluster
from simulator.services import Services
from simulator.verify import read_streams
from tests.integration.bridge_env import BridgeRun, dlq_cli
from tests.integration.raw_events import command_event

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def clusters(kafka_cluster: LocalKafkaCluster, redis_cluster: LocalRedisCluster) -> Services:
    """The cluster topology's Kafka and Redis, as the services of a bridge run."""
    services = Services(kafka_cluster.bootstrap, redis_cluster.url, "local", "local")
    services.redis_cluster = True
    return services


def test_health_and_dlq_answer_for_a_bridge_on_kafka_and_redis_clusters(
    clusters: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = clusters
    run = BridgeRun(services, unique, tmp_path, partitions=3, bridge={"http_port": free_port()})
    run.cli_env(monkeypatch)
    sessions = {str(uuid.uuid4()): f"user-{i}" for i in range(6)}  # users in every slot range
    bridge = run.bridge()

    async def traffic() -> None:
        await run.create_topic()
        bridge.start()
        # acks=all: acknowledged only once the ISR has it, i.e. below the high watermark that
        # the drain check reads as the topic's end; with the leader's ack alone (acks=1) the
        # end could still lag the last records and "drained" come before their write.
        producer = AIOKafkaProducer(bootstrap_servers=run.services.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for session, user in sessions.items():
                await producer.send_and_wait(
                    run.topic, command_event(session, user), key=session.encode()
                )
            await producer.send_and_wait(run.topic, b"{not json", key=b"k")
        finally:
            await producer.stop()
        await run.wait_drained(alive=[bridge])

        async def ready() -> bool:
            # The command itself, as an operator runs it (its settings from this environment).
            argv = [sys.executable, "-m", "eventbridge", "health"]
            done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, timeout=30)
            answers.append(done.stdout)
            return done.returncode == 0

        await run.wait_for(ready, "`eventbridge health` to say ready", alive=[bridge])

    answers: list[bytes] = []
    try:
        asyncio.run(traffic())
        health = orjson.loads(answers[-1])
        assert health["ready"] is True
        assert health["redis"]["reachable"] is True
        assert health["counters"]["published"] == len(sessions)
        [letter] = [orjson.loads(line) for line in dlq_cli(capsys, "show")]
        assert letter["reason"] == "invalid_json"
        dry = orjson.loads(dlq_cli(capsys, "replay")[0])
        assert dry["would_replay"] == 1
    finally:
        assert bridge.terminate() == 0
    streams = asyncio.run(read_streams(services.redis_url, run.prefix, cluster=True))
    assert set(sessions.values()) <= set(streams)
