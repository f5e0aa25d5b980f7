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
from eventbridge.cli import EXIT_STOP_TIMEOUT
from simulator.bridge_process import EventBridgeProcess
from simulator.genesis import generate_n
from simulator.local_kafka import LocalKafka
from simulator.produce import produce_all
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.integration.bridge_env import BridgeRun, messages, summed
from tests.integration.kafka_members import joined, started

pytestmark = pytest.mark.timeout(420)

REQUEST_TIMEOUT_MS = 4_000
PATIENT_S = 150  # several bounded commits and dead-letter waits, on a loaded machine


def test_bridges_stop_on_sigterm_while_kafka_is_down_drained_or_at_their_deadline(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    """One bridge given all the time it needs drains and exits 0 (its commits fail, bounded);
    one given 2 s exits 3 at its deadline, saying so."""
    kafka = LocalKafka(tmp_path / "kafka")  # our own broker: this test kills it
    kafka.start(timeout_s=180)
    try:
        own = dataclasses.replace(real_services, kafka_bootstrap=kafka.bootstrap)
        runs = [
            BridgeRun(
                own,
                f"{unique}{name}",
                tmp_path / name,
                kafka={"request_timeout_ms": REQUEST_TIMEOUT_MS},
                bridge={"max_batch": 100, "commit_interval_s": 0.2, "stop_timeout_s": limit_s},
            )
            for name, limit_s in (("patient", PATIENT_S), ("hasty", 2))
        ]
        patient, hasty = bridges = [run.bridge() for run in runs]

        async def scenario() -> None:
            for seed, run in enumerate(runs):
                await run.create_topic()
                # A backlog far longer than a bridge reads before the kill: it has records to
                # deliver, and offsets to commit, after Kafka is gone.
                records = generate_n(30_000, seed=seed, users=40)
                await produce_all(kafka.bootstrap, run.topic, records)
            for bridge in bridges:
                bridge.start()
            for run, bridge in zip(runs, bridges, strict=True):

                async def working(bridge: EventBridgeProcess = bridge) -> bool:
                    return summed(bridge, "consumed") >= 1_000

                await run.wait_for(working, "the bridge to consume", alive=[bridge])
            kafka.kill()
            for run, bridge in zip(runs, bridges, strict=True):

                async def failing(bridge: EventBridgeProcess = bridge) -> bool:
                    return "commit failed" in messages(bridge)

                await run.wait_for(failing, "a commit to fail", alive=[bridge])

        try:
            asyncio.run(scenario())
            hasty_code = hasty.terminate(grace_s=30)
            patient_code = patient.terminate(grace_s=PATIENT_S + 10)
        finally:
            for bridge in bridges:  # a failed wait: SIGKILL them rather than leave them behind
                bridge.terminate(grace_s=1)
        assert hasty_code == EXIT_STOP_TIMEOUT, hasty_code
        said = messages(hasty)
        assert any(m.startswith("stop took longer than bridge.stop_timeout_s") for m in said), said
        assert patient_code == 0, f"exit {patient_code} (3: it did not finish the drain)"
        failures = [e for e in patient.log_entries() if e.get("message") == "commit failed"]
        assert any("kafka.request_timeout_ms" in str(e.get("error")) for e in failures), failures
        assert "bridge stopped" in messages(patient)
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
