"""`eventbridge dlq show|replay` against the real Kafka, Redis and a real bridge process."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.settings import KafkaSettings
from application.ports import DeadLetter
from domain.model import Partition, Record
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import read_streams, read_topic
from tests.integration.bridge_env import BridgeRun, dlq_cli
from tests.integration.raw_events import agent_event, command_event

pytestmark = pytest.mark.timeout(180)


async def produce(run: BridgeRun, session: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=run.services.kafka_bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(
                run.topic, value, key=session.encode(), headers=[("origin", b"test")]
            )
    finally:
        await producer.stop()


def test_an_agent_event_dead_lettered_for_want_of_an_owner_is_delivered_once_replayed(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    session, other = str(uuid.uuid4()), str(uuid.uuid4())
    early = agent_event(session)  # before its session's first command: no owner yet
    bridge = run.bridge()

    async def first_part() -> None:
        await run.create_topic()
        bridge.start()
        await produce(run, session, early, b"{not json")
        await produce(run, other, agent_event(other))
        await run.wait_drained()
        await produce(run, session, command_event(session, "42"))
        await run.wait_drained()

    try:
        asyncio.run(first_part())

        shown = [orjson.loads(line) for line in dlq_cli(capsys, "show")]
        assert sorted(s["reason"] for s in shown) == ["invalid_json", "no_user", "no_user"]
        [mine] = [s for s in shown if s["reason"] == "no_user" and session in s["value"]]
        assert mine["source"] == f"{run.topic}/0/0"
        assert mine["key"] == session
        assert mine["headers"] == {"origin": "test"}
        assert mine["value"].encode() == early
        assert len(dlq_cli(capsys, "show", "--limit", "1")) == 1

        dry = dlq_cli(capsys, "replay", "--reason", "no_user")
        assert orjson.loads(dry[0]) == {
            "would_replay": 2,
            "by_reason": {"no_user": 2},
            "skipped": {"duplicate": 0, "truncated": 0, "unreadable": 0, "other_topic": 0},
        }
        produced = len(asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic)))
        assert produced == 4, "a dry run sends nothing"

        done = dlq_cli(capsys, "replay", "--reason", "no_user", "--yes")
        assert orjson.loads(done[0]) == {
            "replayed": 2,
            "by_reason": {"no_user": 2},
            "skipped": {"duplicate": 0, "truncated": 0, "unreadable": 0, "other_topic": 0},
        }
        asyncio.run(run.wait_drained())
    finally:
        bridge.terminate()

    topic = asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic))
    replayed = [headers for _, headers in topic[4:]]
    assert len(replayed) == 2
    assert all(h["dlq.replayed_from"].startswith(run.dlq_topic.encode()) for h in replayed)
    assert all("dlq.reason" not in h and h["origin"] == b"test" for h in replayed)
    streams = asyncio.run(
        read_streams(real_services.redis_url, run.prefix, cluster=real_services.redis_cluster)
    )
    delivered = [e.event_id for e in streams.get("42", [])]
    # The command, then the agent event that waited for its session's owner; the other
    # session still has no owner, so its event is dead-lettered again.
    assert delivered[1:] == [orjson.loads(early)["event_id"]]
    dlq = asyncio.run(read_topic(real_services.kafka_bootstrap, run.dlq_topic))
    assert [h["dlq.reason"] for _, h in dlq] == [
        b"no_user",
        b"invalid_json",
        b"no_user",
        b"no_user",
    ]


def test_a_record_dead_lettered_twice_is_shown_and_replayed_once(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bridge that crashed between a dead letter and its commit writes the letter again."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    source = Partition(run.topic, 0)
    first, second = (
        DeadLetter(Record(source, offset, b"k", b"{bad %d" % offset), "invalid_json", "not JSON")
        for offset in (7, 8)
    )

    async def letters() -> None:
        await create_topics_async(real_services.kafka_bootstrap, {run.topic: 1, run.dlq_topic: 1})
        dlq = AiokafkaDeadLetters(settings=run_settings(run))
        await dlq.start()
        try:
            await dlq.send([first, second])
            await dlq.send([first])  # the crash: the same source record again
        finally:
            await dlq.stop()

    asyncio.run(letters())
    shown = [orjson.loads(line) for line in dlq_cli(capsys, "show")]
    assert sorted(s["source"] for s in shown) == [f"{run.topic}/0/7", f"{run.topic}/0/8"]
    assert [s["dlq"] for s in shown if s["source"].endswith("/7")] == [f"{run.dlq_topic}/0/2"]
    dry = dlq_cli(capsys, "replay")
    assert orjson.loads(dry[0])["would_replay"] == 2
    done = dlq_cli(capsys, "replay", "--yes")
    assert orjson.loads(done[0]) == {
        "replayed": 2,
        "by_reason": {"invalid_json": 2},
        "skipped": {"duplicate": 1, "truncated": 0, "unreadable": 0, "other_topic": 0},
    }
    topic = asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic))
    assert sorted(value or b"" for value, _ in topic) == [b"{bad 7", b"{bad 8"]


def run_settings(run: BridgeRun) -> KafkaSettings:
    return KafkaSettings(**run.settings["kafka"])
