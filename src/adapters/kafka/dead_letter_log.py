"""The dead-letter topic read back: what `eventbridge dlq show` prints and `replay` sends again."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from adapters.kafka.admin import KafkaAdminError, partitions_of
from adapters.kafka.errors import LIBRARY_ERRORS, described
from adapters.kafka.letters import (
    HEADER_MESSAGE,
    HEADER_OFFSET,
    HEADER_ORIGINAL_SIZE,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_SHA256,
    HEADER_TIME,
    HEADER_TOPIC,
    HEADER_TRUNCATED,
    HEADER_TRUNCATED_PARTS,
    HEADER_VALUE_NULL,
)
from adapters.kafka.settings import KafkaSettings

_READ_ERRORS: tuple[type[Exception], ...] = (*LIBRARY_ERRORS, KafkaAdminError)
HEADER_REPLAYED_FROM = "dlq.replayed_from"  # on a replayed record: "<dlq topic>/<p>/<offset>"
_OURS = frozenset(
    {
        HEADER_REASON,
        HEADER_MESSAGE,
        HEADER_TOPIC,
        HEADER_PARTITION,
        HEADER_OFFSET,
        HEADER_TIME,
        HEADER_TRUNCATED,
        HEADER_TRUNCATED_PARTS,
        HEADER_ORIGINAL_SIZE,
        HEADER_SHA256,
        HEADER_VALUE_NULL,
        HEADER_REPLAYED_FROM,
    }
)


class DeadLetterLogError(Exception):
    """The dead-letter topic cannot be read, or a replayed record cannot be written."""


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """One record of the dead-letter topic: the original record plus the `dlq.*` headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, raw in reversed(self.headers):
            if key == name:
                return raw.decode("utf-8", "replace") if raw is not None else None
        return None

    @property
    def source(self) -> tuple[str, int, int] | None:
        """(topic, partition, offset) of the record it holds; None for a letter not ours."""
        topic, partition, offset = (
            self.header(h) for h in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)
        )
        if topic is None or partition is None or offset is None:
            return None
        try:
            return topic, int(partition), int(offset)
        except ValueError:
            return None

    @property
    def truncated(self) -> bool:
        """The letter does not hold its record byte for byte (cut to fit the topic)."""
        return self.header(HEADER_TRUNCATED) == "true"

    @property
    def original_value(self) -> bytes | None:
        """The record's value as it was (None for a record with neither key nor value)."""
        return None if self.header(HEADER_VALUE_NULL) == "true" else self.value

    @property
    def reason(self) -> str | None:
        return self.header(HEADER_REASON)

    @property
    def time(self) -> datetime | None:
        text = self.header(HEADER_TIME)
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was dead-lettered."""
        # A replayed record carries dlq.replayed_from and only that of ours; a producer's
        # own header that merely starts with "dlq." is kept.
        return [(k, v) for k, v in self.headers if k not in _OURS]

    def summary(self) -> dict[str, object]:
        """A JSON-ready view: where it is, why it is there, where it came from, and its bytes."""
        value: str | None = None
        if self.original_value is not None:
            value = self.original_value.decode("utf-8", "backslashreplace")
        truncated = {}
        if self.truncated:
            truncated = {
                "truncated": {
                    "parts": (self.header(HEADER_TRUNCATED_PARTS) or "").split(","),
                    "original_size": self.header(HEADER_ORIGINAL_SIZE),
                    "sha256": self.header(HEADER_SHA256),
                }
            }
        return {
            "dlq": f"{self.topic}/{self.partition}/{self.offset}",
            "reason": self.reason,
            "message": self.header(HEADER_MESSAGE),
            "source": "/".join(
                self.header(h) or "?" for h in (HEADER_TOPIC, HEADER_PARTITION, HEADER_OFFSET)
            ),
            "time": self.header(HEADER_TIME),
            "key": self.key.decode("utf-8", "backslashreplace") if self.key is not None else None,
            "value": value,
            "headers": {
                k: v.decode("utf-8", "replace") if v is not None else None
                for k, v in self.original_headers()
            },
            **truncated,
        }


async def read_letters(
    settings: KafkaSettings, *, newest: int | None = None
) -> AsyncIterator[StoredLetter]:
    """The dead letters up to the topic's end as it is now, oldest first per partition; with
    `newest`, only the last `newest` of each partition. No consumer group: nothing commits."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-reader",
        enable_auto_commit=False,
        request_timeout_ms=settings.request_timeout_ms,
    )
    try:
        numbers = await partitions_of(settings.bootstrap_servers, topic)
        if not numbers:
            return
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(begin[tp], end[tp] - newest) if newest else begin[tp])
        remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset < end[tp]:
                        yield StoredLetter(
                            topic, tp.partition, m.offset, m.key, m.value, tuple(m.headers)
                        )
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    except _READ_ERRORS as exc:
        raise DeadLetterLogError(f"cannot read {topic}: {described(exc)}") from exc
    finally:
        await _stopped(consumer)


async def _stopped(client: AIOKafkaConsumer | AIOKafkaProducer) -> None:
    try:
        await client.stop()
    except LIBRARY_ERRORS as exc:
        raise DeadLetterLogError(f"cannot close the client: {described(exc)}") from exc


async def letter_count(settings: KafkaSettings) -> int:
    """How many records the dead-letter topic holds now (over all its partitions)."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-reader",
        request_timeout_ms=settings.request_timeout_ms,
    )
    try:
        numbers = await partitions_of(settings.bootstrap_servers, topic)
        if not numbers:
            return 0
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in numbers]
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    except _READ_ERRORS as exc:
        raise DeadLetterLogError(f"cannot read {topic}: {described(exc)}") from exc
    finally:
        await _stopped(consumer)


async def replay(
    settings: KafkaSettings,
    letters: AsyncIterable[StoredLetter],
    *,
    on_sent: Callable[[StoredLetter], None] | None = None,
) -> int:
    """Produce each letter's original record (key, value, headers) to the topic it came from,
    marked with `dlq.replayed_from`, and wait until Kafka acknowledged every one. A truncated
    letter is never sent: its value is not the original (the caller leaves them out)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-dlq-replay",
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
    )
    sent = 0
    try:
        await producer.start()
        futures = []
        async for letter in letters:
            if letter.truncated:
                raise DeadLetterLogError(
                    f"{letter.topic}/{letter.partition}/{letter.offset} is truncated: not replayed"
                )
            target = letter.header(HEADER_TOPIC) or settings.topic
            origin = f"{letter.topic}/{letter.partition}/{letter.offset}".encode()
            futures.append(
                await producer.send(
                    target,
                    value=letter.original_value,
                    key=letter.key,
                    headers=[*letter.original_headers(), (HEADER_REPLAYED_FROM, origin)],
                )
            )
            if on_sent is not None:
                on_sent(letter)
        for future in futures:
            await future
            sent += 1
    except LIBRARY_ERRORS as exc:
        raise DeadLetterLogError(f"replay stopped after {sent} records: {described(exc)}") from exc
    finally:
        await _stopped(producer)
    return sent
