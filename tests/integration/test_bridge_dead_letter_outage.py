"""A dead-letter topic that is not there under `drop`: the backlog stops at its bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.genesis import generate_n
from simulator.processes import free_port
from simulator.produce import produce_all
from simulator.services import Services
from simulator.topics import create_topics_async
from tests.integration.bridge_env import BridgeRun, messages
from tests.integration.observability.scrape import ready
from tests.integration.test_bridge_resilience import assert_exactly_once

pytestmark = pytest.mark.timeout(240)

BOUND, BATCH = 300, 100


def test_under_drop_a_dead_letter_outage_pauses_at_the_backlog_bound_and_retries(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    run = BridgeRun(
        real_services,
        unique,
        tmp_path,
        partitions=2,
        kafka={"create_dlq_topic": False, "request_timeout_ms": 2000},
        bridge={
            "max_batch": BATCH,
            "max_backlog_records": BOUND,
            "retry_backoff_s": 0.5,
            "http_port": port,
        },
        circuit_breaker={"policy": "drop"},
    )
    traffic = generate_n(3000, seed=31, users=20, bad_ratio=0.05)

    async def scenario() -> None:
        await run.create_topic()  # but not its dead-letter topic: every letter fails
        await produce_all(real_services.kafka_bootstrap, run.topic, traffic)
        bridge = run.bridge()
        bridge.start()
        try:

            async def paused() -> bool:
                return "partitions paused" in messages(bridge)

            await run.wait_for(paused, "the partitions to pause at the bound", alive=[bridge])
            backlogs = []
            for _ in range(10):
                _, body = await ready(port)
                backlogs.append(body["backlog"])
                await asyncio.sleep(0.3)  # sampling the gauge of another process
            assert 0 < max(backlogs) <= BOUND + 2 * BATCH, backlogs
            assert await run.backlog() > 1000, "the rest waits in Kafka, not in memory"
            await create_topics_async(real_services.kafka_bootstrap, {run.dlq_topic: 1})
            await run.wait_drained(alive=[bridge])
        finally:
            assert bridge.terminate() == 0
        assert "partitions resumed" in messages(bridge)
        assert_exactly_once(await run.verification(traffic))

    asyncio.run(scenario())
