"""A hostile `traceparent` header through a real bridge process: ignored, its event delivered
(W3C: a malformed traceparent starts a new trace), never the process's death (SPEC §15)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from simulator.hostile import HOSTILE_TRACEPARENTS
from simulator.services import Services
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun
from tests.integration.raw_events import command_event, event_id_of, produce_raw

pytestmark = pytest.mark.timeout(180)


def test_hostile_traceparents_never_kill_the_bridge_and_their_events_are_delivered_once(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    key = session.encode()
    # Each hostile header between two plain neighbours, all of one session (one partition).
    records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
    for header in HOSTILE_TRACEPARENTS.values():
        records.append((key, command_event(session, "7"), []))
        records.append((key, command_event(session, "7"), [("traceparent", header)]))
    records.append((key, command_event(session, "7"), []))

    async def scenario() -> None:
        await run.create_topic()
        await produce_raw(real_services.kafka_bootstrap, run.topic, records)
        await run.run_until_drained()  # fails at once if the bridge exits
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(v) for _, v, _ in records]
        assert await read_topic(real_services.kafka_bootstrap, run.dlq_topic) == []

    asyncio.run(scenario())
