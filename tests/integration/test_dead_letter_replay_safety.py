"""`eventbridge dlq show|replay` against what the dead-letter topic may really hold: replays of
replays, letters naming another topic, and letters the client library cannot parse."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from eventbridge.dlq import replay_letters
from eventbridge.settings import load_settings
from simulator.raw_produce import produce_raw_headers
from simulator.services import Services
from simulator.topics import create_topics_async
from simulator.verify import read_topic
from tests.integration.bridge_env import BridgeRun, dlq_cli
from tests.integration.raw_events import agent_event, produce_raw

pytestmark = pytest.mark.timeout(240)


def test_replaying_a_still_invalid_letter_again_and_again_sends_it_once_each_time(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cron job replaying `no_user` letters must not double a record on each run: the letter
    of a replayed record is the same source record as the letter it was replayed from."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    orphan = str(uuid.uuid4())  # its session never gets an owner: it stays `no_user`
    bridge = run.bridge()

    async def settle() -> None:
        await run.wait_drained(alive=[bridge])

    async def first() -> None:
        await run.create_topic()
        bridge.start()
        await produce_raw(
            real_services.kafka_bootstrap, run.topic, [(orphan.encode(), agent_event(orphan), ())]
        )
        await settle()

    try:
        asyncio.run(first())
        for replays in range(3):
            [summary] = dlq_cli(capsys, "replay", "--reason", "no_user", "--yes")
            assert orjson.loads(summary)["replayed"] == 1, summary  # main: 1, 2, 4
            assert orjson.loads(summary)["skipped"]["duplicate"] == replays
            asyncio.run(settle())
        [shown] = [orjson.loads(line) for line in dlq_cli(capsys, "show", "--limit", "100")]
        assert shown["root"] == f"{run.topic}/0/0"
        assert shown["source"] == f"{run.topic}/0/3"  # by its newest letter
    finally:
        bridge.terminate()
    # The domain topic holds the record and its three replays: one each time, not 1+2+4.
    assert len(asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic))) == 4
    assert len(asyncio.run(read_topic(real_services.kafka_bootstrap, run.dlq_topic))) == 4


def _letter(topic: str, offset: int, reason: str = "no_user") -> list[tuple[str, bytes]]:
    return [
        ("dlq.reason", reason.encode()),
        ("dlq.source.topic", topic.encode()),
        ("dlq.source.partition", b"0"),
        ("dlq.source.offset", str(offset).encode()),
        ("dlq.time", datetime.now(UTC).isoformat().encode()),
    ]


def test_replay_writes_only_to_its_own_topic_whatever_a_letter_names(
    real_services: Services, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever can write the dead-letter topic must not make the operator's replay (run with the
    operator's credentials) produce to another topic: a confused deputy."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    victim = f"payments-commands-{unique}"
    bootstrap = real_services.kafka_bootstrap
    ours = agent_event(unique)

    async def letters() -> None:
        await create_topics_async(bootstrap, {run.topic: 1, run.dlq_topic: 1, victim: 1})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                run.dlq_topic, b'{"command":"refund"}', key=b"x", headers=_letter(victim, 0)
            )
            await producer.send_and_wait(run.dlq_topic, b"no headers at all", key=b"y")
            await producer.send_and_wait(
                run.dlq_topic, ours, key=b"z", headers=_letter(run.topic, 5)
            )
        finally:
            await producer.stop()

    asyncio.run(letters())
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings()
    sent = asyncio.run(
        replay_letters(settings, out, reason=None, since=None, limit=100, yes=True, err=err)
    )
    summary = orjson.loads(out.getvalue().splitlines()[0])
    assert sent == 1
    assert summary["skipped"] == {
        "duplicate": 0,
        "truncated": 0,
        "unreadable": 0,
        "other_topic": 2,
    }
    assert f"came from '{victim}', not from kafka.topic" in err.getvalue()
    assert "names no source record" in err.getvalue()
    assert asyncio.run(read_topic(bootstrap, victim)) == []
    replayed = asyncio.run(read_topic(bootstrap, run.topic))
    assert [value for value, _ in replayed] == [ours]


def test_a_letter_the_client_library_cannot_parse_breaks_neither_show_nor_replay(
    real_services: Services,
    unique: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """librdkafka writes a header name that is not UTF-8 (aiokafka raises UnicodeDecodeError on
    it, every time): one such record in the dead-letter topic stopped `dlq show` and `replay`."""
    run = BridgeRun(real_services, unique, tmp_path, partitions=1)
    run.cli_env(monkeypatch)
    session = str(uuid.uuid4())

    async def letters() -> None:
        await run.create_topic()
        await produce_raw(
            real_services.kafka_bootstrap,
            run.topic,
            [(session.encode(), b"{bad 1", ()), (session.encode(), b"{bad 2", ())],
        )
        await run.run_until_drained()
        # One batch, as librdkafka would send it: the foreign letter between two good ones'
        # neighbours, so the records after it in the batch must be read too.
        await produce_raw_headers(
            real_services.kafka_bootstrap,
            run.dlq_topic,
            [
                (b"k", b"junk", [(b"\xff\xfe", b"v")]),
                (b"k", b"{bad 3", [(k.encode(), v) for k, v in _letter(run.topic, 9, "x")]),
            ],
            partition=0,
        )

    asyncio.run(letters())
    shown = {s["value"]: s for s in map(orjson.loads, dlq_cli(capsys, "show", "--limit", "10"))}
    assert sorted(shown) == ["junk", "{bad 1", "{bad 2", "{bad 3"]
    assert "not UTF-8" in shown["junk"]["unreadable"]
    assert shown["junk"]["headers"] == {"\\xff\\xfe": "v"}
    [summary] = dlq_cli(capsys, "replay", "--yes")
    assert orjson.loads(summary)["replayed"] == 3
    assert orjson.loads(summary)["skipped"]["unreadable"] == 1
    replayed = asyncio.run(read_topic(real_services.kafka_bootstrap, run.topic))[2:]
    assert sorted(value or b"" for value, _ in replayed) == [b"{bad 1", b"{bad 2", b"{bad 3"]
