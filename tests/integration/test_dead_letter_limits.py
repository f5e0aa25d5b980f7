"""Dead letters the topic cannot take as they are: cut to fit, never a stalled partition."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from eventbridge.cli import main
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun, messages
from tests.integration.raw_events import agent_event, command_event, event_id_of, produce_raw

pytestmark = pytest.mark.timeout(180)

LIMIT = 65_536
SMALL = {"max.message.bytes": str(LIMIT)}


def almost_too_big(size: int) -> bytes:
    """A record of `size` bytes that is not JSON: it must become a dead letter."""
    return b"{" + b"x" * (size - 1)


async def create_small_topics(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1, topic_configs=SMALL) for t in topics])
    finally:
        await admin.close()


async def set_limit(bootstrap: str, topic: str, limit: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(limit)}
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[str], str]:
    assert main(["dlq", *argv]) == 0
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err


def test_a_record_just_under_the_topics_limit_is_dead_lettered_truncated_and_nothing_stalls(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    session = str(uuid.uuid4())
    big = almost_too_big(LIMIT - 400)
    good = [command_event(session, "7"), agent_event(session)]
    key = session.encode()

    async def scenario() -> None:
        bootstrap = real_services.kafka_bootstrap
        await create_small_topics(bootstrap, run.topic, run.dlq_topic)
        headers = [("origin", b"test"), ("note", b"n" * 200)]
        await produce_raw(
            bootstrap, run.topic, [(key, good[0], ()), (key, big, headers), (key, good[1], ())]
        )
        await run.run_until_drained()
        [(value, h)] = await read_topic(bootstrap, run.dlq_topic)
        assert h["dlq.reason"] == b"invalid_json"
        assert h["dlq.truncated"] == b"true"
        assert h["dlq.truncated.parts"] == b"value"
        assert h["dlq.original_size"] == str(len(big)).encode()
        assert h["dlq.sha256"] == hashlib.sha256(big).hexdigest().encode()
        assert h["origin"] == b"test"
        assert value is not None
        assert big.startswith(value)
        assert len(value) > LIMIT - 2000
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(v) for v in good]

    asyncio.run(scenario())

    [shown], _ = cli(capsys, "show")
    summary = orjson.loads(shown)
    assert summary["truncated"]["parts"] == ["value"]
    assert summary["truncated"]["original_size"] == str(len(big))
    out, err = cli(capsys, "replay", "--yes")
    assert orjson.loads(out[0]) == {
        "replayed": 0,
        "by_reason": {},
        "skipped": {"duplicate": 0, "truncated": 1, "unreadable": 0, "other_topic": 0},
    }
    assert "truncated" in err
    assert len(asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic))) == 3


def test_a_letter_the_topic_refuses_anyway_is_written_without_its_value(
    real_services: Services, unique: str, tmp_path: Path
) -> None:
    """The bridge read the dead-letter topic's limit at start; the limit is lowered while it
    runs, so the broker refuses the letter as sized: it is sent once more, minimal."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    session = str(uuid.uuid4())
    first, last = command_event(session, "7"), agent_event(session)
    big = almost_too_big(40_000)
    key = session.encode()

    async def scenario() -> None:
        bootstrap = real_services.kafka_bootstrap
        await create_topics_async(bootstrap, {run.topic: 1, run.dlq_topic: 1})
        bridge = run.bridge()
        bridge.start()
        try:
            await produce_raw(bootstrap, run.topic, [(key, first, ())])
            await run.wait_drained(timeout_s=60, alive=[bridge])
            await set_limit(bootstrap, run.dlq_topic, 16_384)
            await produce_raw(
                bootstrap, run.topic, [(key, big, [("origin", b"x")]), (key, last, ())]
            )
            await run.wait_drained(timeout_s=60, alive=[bridge])
        finally:
            assert bridge.terminate() == 0
        [(value, h)] = await read_topic(bootstrap, run.dlq_topic)
        assert value == b""
        assert h["dlq.truncated.parts"] == b"value,headers"
        assert "origin" not in h
        assert h["dlq.sha256"] == hashlib.sha256(big).hexdigest().encode()
        assert "dead letters refused by the topic, sent without their value" in messages(bridge)
        streams = await read_streams(real_services.redis_url, run.prefix)
        assert [e.event_id for e in streams["7"]] == [event_id_of(first), event_id_of(last)]

    asyncio.run(scenario())
