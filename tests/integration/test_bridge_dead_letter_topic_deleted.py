"""The dead-letter topic deleted under a running bridge: with `kafka.create_dlq_topic` the bridge
creates it again and goes on; without, it says on /readyz why it cannot, retries slowly and
goes on once the topic is back; never a silent stall, never a log flood (aiokafka logs every
metadata refresh of a missing topic)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from simulator.processes import free_port
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun
from tests.integration.raw_events import command_event, event_id_of, produce_raw
from tests.integration.test_bridge_stalls import readyz_until

pytestmark = pytest.mark.timeout(240)


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


def loud_lines(entries: list[dict[str, object]]) -> int:
    return sum(1 for e in entries if e.get("level") in ("warning", "error"))


@pytest.mark.parametrize("create", [True, False], ids=["created_again", "not_created"])
def test_a_dead_letter_topic_deleted_while_running_is_created_again_or_reported(
    real_services: Services, unique: str, tmp_path: Path, create: bool
) -> None:
    port = free_port()
    run = BridgeRun(
        real_services,
        unique,
        tmp_path,
        partitions=1,
        bridge={"http_port": port},
        kafka={"create_dlq_topic": create},
    )
    session = str(uuid.uuid4())
    key = session.encode()
    later = [command_event(session, "7") for _ in range(3)]
    bootstrap = real_services.kafka_bootstrap
    bridge = run.bridge()

    async def scenario() -> None:
        await run.create_topic()
        if not create:  # the operator's own dead-letter topic
            await create_topics_async(bootstrap, {run.dlq_topic: 1})
        bridge.start()
        await produce_raw(bootstrap, run.topic, [(key, b"{first bad", ())])
        await run.wait_drained(alive=[bridge])
        await delete_topic(bootstrap, run.dlq_topic)
        await produce_raw(
            bootstrap, run.topic, [(key, b"{second bad", ()), *((key, v, ()) for v in later)]
        )
        if create:
            await run.wait_drained(timeout_s=90, alive=[bridge])
            letters = await read_topic(bootstrap, run.dlq_topic)
            assert [v for v, _ in letters] == [b"{second bad"]
            streams = await read_streams(real_services.redis_url, run.prefix)
            assert [e.event_id for e in streams["7"]] == [event_id_of(v) for v in later]
            assert "dead-letter topic created again" in [
                e.get("message") for e in bridge.log_entries()
            ]
        else:
            body = await readyz_until(
                port,
                lambda s, b: s == 503 and "dead_letters_unavailable" in b["reasons"],
                "/readyz to say the dead letters fail",
                timeout_s=90,
            )
            assert "kafka.create_dlq_topic" in body["dead_letters"]["error"], body
            assert await run.backlog() > 0
            await asyncio.sleep(10)  # a stall goes on: what does the log do meanwhile?
            # The operator creates the topic: the bridge goes on by itself (its retries back
            # off to bridge.retry_backoff_max_s, 30 s, at most).
            await create_topics_async(bootstrap, {run.dlq_topic: 1})
            await run.wait_drained(timeout_s=90, alive=[bridge])
            letters = await read_topic(bootstrap, run.dlq_topic)
            assert [v for v, _ in letters] == [b"{second bad"]
            await readyz_until(port, lambda s, _: s == 200, "/readyz to be ready again")
        entries = list(bridge.log_entries())
        assert loud_lines(entries) < 200
        not_found = [e for e in entries if "not found in cluster metadata" in str(e.get("message"))]
        assert len(not_found) < 20, len(not_found)  # aiokafka's line, once per 30 s

    try:
        asyncio.run(scenario())
    finally:
        assert bridge.terminate() == 0
