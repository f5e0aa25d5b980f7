"""A bridge told to stop while its Kafka is down stops: its commits are bounded, not endless.

aiokafka retries a commit until the group coordinator answers. With the broker gone, the bridge
waited there for ever: it never saw its SIGTERM, and a soak left one running 20 minutes after
its test run was killed. Each commit now waits at most `kafka.request_timeout_ms`.

And the source's stop finishes while Kafka is down: aiokafka 0.14's `consumer.stop()` raises the
cancel of a fetch task it is waiting on (aio-libs/aiokafka#647) before it closes its client."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from adapters.kafka.settings import KafkaSettings
from simulator.genesis import generate_n
from simulator.local_kafka import LocalKafka
from simulator.produce import produce_all
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.integration.bridge_env import BridgeRun, messages, summed
from tests.integration.kafka_members import joined, started

pytestmark = pytest.mark.timeout(240)

REQUEST_TIMEOUT_MS = 8_000


def test_a_bridge_stops_on_sigterm_while_kafka_is_down_and_says_its_commit_failed(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    kafka = LocalKafka(tmp_path / "kafka")  # our own broker: this test kills it
    kafka.start(timeout_s=180)
    try:
        own = dataclasses.replace(real_services, kafka_bootstrap=kafka.bootstrap)
        run = BridgeRun(
            own,
            unique,
            tmp_path,
            kafka={"request_timeout_ms": REQUEST_TIMEOUT_MS},
            bridge={"max_batch": 100, "commit_interval_s": 0.2},
        )
        bridge = run.bridge()

        async def scenario() -> None:
            await run.create_topic()
            # A backlog far longer than the bridge reads before the kill: it has records to
            # deliver, and offsets to commit, after Kafka is gone.
            await produce_all(kafka.bootstrap, run.topic, generate_n(30_000, seed=5, users=40))
            bridge.start()

            async def working() -> bool:
                return summed(bridge, "consumed") >= 1_000

            await run.wait_for(working, "the bridge to consume", alive=[bridge])
            kafka.kill()

            async def failing() -> bool:
                return "commit failed" in messages(bridge)

            await run.wait_for(failing, "a commit to fail", alive=[bridge])

        try:
            asyncio.run(scenario())
            # Two bounded commits at most (the one in flight and the drain's), then it exits.
            code = bridge.terminate(grace_s=4 * REQUEST_TIMEOUT_MS / 1000)
        finally:
            bridge.terminate(grace_s=1)  # a failed wait: SIGKILL it rather than leave it behind
        assert code == 0, f"exit {code} (-9: it did not stop within the grace and was killed)"
        failures = [e for e in bridge.log_entries() if e.get("message") == "commit failed"]
        assert any("kafka.request_timeout_ms" in str(e.get("error")) for e in failures), failures
        assert "bridge stopped" in messages(bridge)
    finally:
        kafka.close()


def test_the_kafka_source_stops_and_closes_its_client_while_kafka_is_down(
    unique: str, tmp_path: Path
) -> None:
    kafka = LocalKafka(tmp_path / "kafka")
    kafka.start(timeout_s=180)
    try:
        settings = KafkaSettings(
            bootstrap_servers=kafka.bootstrap,
            topic=f"outage-{unique}",
            group_id=f"g-{unique}",
            group_instance_id="none",
            request_timeout_ms=REQUEST_TIMEOUT_MS,
        )

        async def scenario() -> None:
            await create_topics_async(kafka.bootstrap, {settings.topic: 6})
            await produce_all(kafka.bootstrap, settings.topic, generate_n(2_000, seed=3, users=9))
            async with started(settings) as source:
                await joined(source)
                async with asyncio.timeout(60):
                    got = 0
                    while got < 2_000:
                        got += len(await source.fetch(timeout_s=0.5, max_records=500))
                kafka.kill()
                for _ in range(3):  # the fetcher is now retrying against the dead broker
                    assert await source.fetch(timeout_s=1.0, max_records=500) == []
            # stop() returned (no CancelledError out of it) and left no aiokafka task running
            left = asyncio.all_tasks() - {asyncio.current_task()}
            if left:
                await asyncio.wait(left, timeout=10)
            assert all(t.done() for t in left), left

        asyncio.run(scenario())
    finally:
        kafka.close()
