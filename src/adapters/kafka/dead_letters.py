"""AiokafkaDeadLetters: the dead-letter topic, with the original bytes and the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from adapters.kafka.settings import KafkaSettings
from application.ports import DeadLetter, DeadLetterUnavailable

HEADER_REASON = "dlq.reason"
HEADER_MESSAGE = "dlq.message"
HEADER_TOPIC = "dlq.source.topic"
HEADER_PARTITION = "dlq.source.partition"
HEADER_OFFSET = "dlq.source.offset"
HEADER_TIME = "dlq.time"


class AiokafkaDeadLetters:
    """DeadLetters over AIOKafkaProducer (acks=all): key and value kept byte for byte."""

    def __init__(self, *, settings: KafkaSettings) -> None:
        self._topic = settings.dead_letter_topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-dlq",
            acks="all",
            linger_ms=0,
            request_timeout_ms=settings.request_timeout_ms,
        )

    @property
    def topic(self) -> str:
        return self._topic

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        now = datetime.now(UTC).isoformat().encode()
        try:
            futures = [
                await self._producer.send(
                    self._topic,
                    value=letter.record.value,
                    key=letter.record.key,
                    headers=[
                        *letter.record.headers,
                        (HEADER_REASON, letter.code.encode()),
                        (HEADER_MESSAGE, letter.message.encode()),
                        (HEADER_TOPIC, letter.record.partition.topic.encode()),
                        (HEADER_PARTITION, str(letter.record.partition.partition).encode()),
                        (HEADER_OFFSET, str(letter.record.offset).encode()),
                        (HEADER_TIME, now),
                    ],
                )
                for letter in letters
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise DeadLetterUnavailable(f"dead-letter write failed: {exc}") from exc
