"""DeadLetters to run the contract against: the fake, or AiokafkaDeadLetters on real Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from adapters.kafka.dead_letters import AiokafkaDeadLetters
from adapters.kafka.letters import (
    HEADER_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
    HEADER_TRUNCATED,
    HEADER_VALUE_NULL,
)
from adapters.kafka.settings import KafkaSettings
from application.fakes import FakeDeadLetters, WrittenLetter
from application.ports import DeadLetters
from domain.model import Partition


@dataclass
class LettersHarness:
    """The dead letters under test and what the topic now holds, letter by letter."""

    dead_letters: DeadLetters
    written: Callable[[], Any]  # async () -> list[WrittenLetter]


LettersFactory = Callable[..., AbstractAsyncContextManager[LettersHarness]]


@asynccontextmanager
async def fake_letters(
    *, limit: int = 1_048_588, refusing: bool = False
) -> AsyncIterator[LettersHarness]:
    fake = FakeDeadLetters(max_message_bytes=limit)
    fake.available = not refusing

    async def written() -> list[WrittenLetter]:
        return list(fake.written)

    yield LettersHarness(fake, written)


def _letter(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> WrittenLetter:
    ours = dict(headers)
    original = tuple((k, v) for k, v in headers if not k.startswith("dlq."))
    return WrittenLetter(
        ours[HEADER_REASON].decode(),
        ours[HEADER_MESSAGE].decode(),
        Partition(ours[HEADER_TOPIC].decode(), int(ours[HEADER_PARTITION])),
        int(ours[HEADER_OFFSET]),
        key,
        None if HEADER_VALUE_NULL in ours else value,
        original,
        ours.get(HEADER_TRUNCATED) == b"true",
    )


async def read_letters(bootstrap: str, topic: str) -> list[WrittenLetter]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[WrittenLetter] = []
        while len(out) < end:
            for messages in (await consumer.getmany(tp, timeout_ms=1000)).values():
                out += [_letter(m.key, m.value, list(m.headers)) for m in messages]
        return out
    finally:
        await consumer.stop()


def kafka_letters_factory(bootstrap: str, unique: str) -> LettersFactory:
    count = 0

    @asynccontextmanager
    async def kafka_letters(
        *, limit: int = 1_048_588, refusing: bool = False
    ) -> AsyncIterator[LettersHarness]:
        nonlocal count
        count += 1
        topic = f"contract-{unique}-{count}.dlq"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            # A topic that refuses every letter: smaller than the smallest letter can be.
            configs = {"max.message.bytes": str(100 if refusing else limit)}
            await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=configs)])
        finally:
            await admin.close()
        settings = KafkaSettings(bootstrap_servers=bootstrap, topic=topic.removesuffix(".dlq"))
        dead_letters = AiokafkaDeadLetters(settings=settings)
        await dead_letters.start()
        try:
            yield LettersHarness(dead_letters, lambda: read_letters(bootstrap, topic))
        finally:
            await dead_letters.stop()

    return kafka_letters


@pytest.fixture(
    params=[
        pytest.param("fake", marks=pytest.mark.unit),
        pytest.param("kafka", marks=pytest.mark.integration),
    ]
)
def dead_letter_topics(request: pytest.FixtureRequest, unique: str) -> LettersFactory:
    """Opens a dead-letter topic and its writer (`async with dead_letter_topics() as h`)."""
    if request.param == "fake":
        return fake_letters
    services = request.getfixturevalue("real_services")
    return kafka_letters_factory(services.kafka_bootstrap, unique)
