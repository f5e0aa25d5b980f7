"""A bridge that cannot make progress says so on /readyz, with its reasons, and what it holds
meanwhile is bounded in bytes as well as records (SPEC §15: ready only while the work moves;
every backlog bounded under every policy)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from simulator.processes import free_port
from simulator.services import Services
from tests.integration.bridge_env import BridgeRun
from tests.integration.observability.scrape import metrics_text, ready
from tests.integration.raw_events import produce_raw
from tests.unit.telemetry.metrics_reading import total

pytestmark = pytest.mark.timeout(240)

# Below even a minimal letter (its dlq.* headers alone are ~300 bytes): every letter refused.
REFUSE_EVERY_LETTER = {"max.message.bytes": "100"}
TAKE_EVERY_LETTER = {"max.message.bytes": "1048588"}


async def set_topic_config(bootstrap: str, topic: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
    finally:
        await admin.close()


async def readyz_until(port: int, done: Any, what: str, timeout_s: float = 60) -> dict[str, Any]:
    """Poll the bridge's /readyz (another process) until `done(status, body)`, with a deadline."""
    deadline = time.monotonic() + timeout_s
    status, body = await ready(port)
    while not done(status, body):
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {status} {body}"
        await asyncio.sleep(0.5)
        status, body = await ready(port)
    return body


def test_a_bridge_whose_dead_letters_are_all_refused_is_not_ready_and_says_why(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    run = BridgeRun(
        real_services, unique, tmp_path, partitions=1, bridge={"http_port": port, "stall_s": 3}
    )
    bridge = run.bridge()
    bootstrap = real_services.kafka_bootstrap

    async def scenario() -> None:
        await run.create_topic()
        bridge.start()
        await produce_raw(bootstrap, run.topic, [(b"k", b"{warm-up", ())])
        await run.wait_drained(alive=[bridge])
        await readyz_until(port, lambda s, _: s == 200, "the bridge to be ready")
        await set_topic_config(bootstrap, run.dlq_topic, REFUSE_EVERY_LETTER)
        await produce_raw(bootstrap, run.topic, [(b"k", b"{stuck", ())])
        body = await readyz_until(
            port, lambda s, b: s == 503 and "stalled" in b["reasons"], "/readyz to say stalled"
        )
        assert "dead_letters_unavailable" in body["reasons"], body
        assert "dead-letter write failed" in body["dead_letters"]["error"]
        assert body["backlog"] == 1
        assert body["stalled_s"] >= 3  # over stall_s, shown to 0.1 s: 3.04 reads 3.0
        assert await run.backlog() > 0  # it really is stuck
        # The topic takes letters again: the retry goes through and the bridge is ready.
        await set_topic_config(bootstrap, run.dlq_topic, TAKE_EVERY_LETTER)
        await run.wait_drained(alive=[bridge])
        body = await readyz_until(port, lambda s, _: s == 200, "the bridge to be ready again")
        assert (body["reasons"], body["backlog"], body["stalled_s"]) == ([], 0, 0.0)

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0


BOUND_BYTES, BATCH, RECORD_BYTES = 200_000, 20, 20_000


def test_under_drop_a_dead_letter_outage_pauses_once_the_backlog_holds_its_bytes_bound(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    port = free_port()
    run = BridgeRun(
        real_services,
        unique,
        tmp_path,
        partitions=1,
        bridge={"http_port": port, "max_batch": BATCH, "max_backlog_bytes": BOUND_BYTES},
        circuit_breaker={"policy": "drop"},
    )
    bridge = run.bridge()
    bootstrap = real_services.kafka_bootstrap
    # 4 MB of malformed records, each ~20 KB: far below the record bound (10,000).
    bad = [(b"k", b"{" + b"x" * RECORD_BYTES, ()) for _ in range(200)]

    async def scenario() -> None:
        await run.create_topic()
        bridge.start()
        await produce_raw(bootstrap, run.topic, [(b"k", b"{warm-up", ())])
        await run.wait_drained(alive=[bridge])
        await set_topic_config(bootstrap, run.dlq_topic, REFUSE_EVERY_LETTER)
        await produce_raw(bootstrap, run.topic, bad)
        body = await readyz_until(
            port, lambda _, b: b["partitions"]["paused"] == 1, "the partition to pause"
        )
        held = body["backlog_bytes"]
        assert 0 < held <= BOUND_BYTES + 2 * BATCH * (RECORD_BYTES + 2), body
        assert body["backlog"] < len(bad)
        assert "dead_letters_unavailable" in body["reasons"]
        # The gauge an operator alerts on says the same (docs/metrics.md).
        gauge = total(await metrics_text(port), "eventbridge_backlog_bytes")
        assert 0 < gauge <= BOUND_BYTES + 2 * BATCH * (RECORD_BYTES + 2)
        await set_topic_config(bootstrap, run.dlq_topic, TAKE_EVERY_LETTER)
        await run.wait_drained(alive=[bridge])
        body = await readyz_until(port, lambda s, _: s == 200, "the bridge to be ready again")
        assert (body["backlog_bytes"], body["partitions"]["paused"]) == (0, 0)
        assert total(await metrics_text(port), "eventbridge_backlog_bytes") == 0

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0
